// The project's lint choices: `.pgmt-lint.json` in the project folder. Every problem in it is collected as a
// diagnostic about the file itself (never thrown), so the watcher keeps running with a half-edited config.
import path from 'node:path';
import { lineIndex, readText } from './migration-sql';
import type { Diagnostic, LintConfig, Severity } from './types';

/** The config file's name, looked up in the project folder. */
export const CONFIG_FILE = '.pgmt-lint.json';

const LEVELS = ['error', 'warning', 'info', 'off'] as const;
const KEYS = ['rules', 'squawk', 'typeCheck'];

export interface LoadedLintConfig {
  config: LintConfig;
  /** Absolute path of the config file (whether or not it exists). */
  file: string;
  /** `invalid-config` and `unknown-rule` findings about it. */
  diagnostics: Diagnostic[];
}

/**
 * Reads and validates the project's config (or checks `override` instead of reading the file). Invalid entries are
 * reported and ignored; the rest applies.
 * @param isKnownRule whether a rule id exists (file-level, SQL-level, or a `squawk/…` rule)
 * @param closestRule the known rule id nearest to an unknown one
 */
export function readLintConfig(
  projectDir: string,
  isKnownRule: (id: string) => boolean,
  closestRule: (id: string) => string | undefined,
  override?: LintConfig,
): LoadedLintConfig {
  const file = path.join(projectDir, CONFIG_FILE);
  const text = override ? undefined : readText(file);
  const lines = text === undefined ? undefined : lineIndex(text);
  const diagnostics: Diagnostic[] = [];
  const at = (needle?: string) => {
    if (!text || !lines || needle === undefined) return {};
    const offset = text.indexOf(JSON.stringify(needle));
    return offset < 0 ? {} : lines(offset);
  };
  const invalid = (message: string, needle?: string, position?: { line: number; column: number }) =>
    diagnostics.push({
      ruleId: 'invalid-config',
      severity: 'error',
      message: `${CONFIG_FILE}: ${message}`,
      hint: `fix ${CONFIG_FILE}: { "rules": { "<rule-id>": "error" | "warning" | "info" | "off" }, "squawk": true | false, "typeCheck": true | false }`,
      file,
      ...(position ?? at(needle)),
      source: 'pg-migrate-tasks',
    });

  let raw: unknown = override ?? {};
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
      invalid(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, undefined, position && lines ? lines(Number(position)) : undefined);
      return { config: {}, file, diagnostics };
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    invalid('expected a JSON object');
    return { config: {}, file, diagnostics };
  }
  const input = raw as Record<string, unknown>;
  const config: LintConfig = {};
  for (const key of Object.keys(input)) if (!KEYS.includes(key)) invalid(`unknown key ${JSON.stringify(key)} (expected "rules", "squawk" or "typeCheck")`, key);
  for (const key of ['squawk', 'typeCheck'] as const) {
    if (input[key] === undefined) continue;
    if (typeof input[key] === 'boolean') config[key] = input[key];
    else invalid(`expected "${key}" to be true or false, got ${JSON.stringify(input[key])}`, key);
  }
  if (input.rules !== undefined) {
    if (!input.rules || typeof input.rules !== 'object' || Array.isArray(input.rules)) {
      invalid(`expected "rules" to be an object of rule ids to severities, got ${JSON.stringify(input.rules)}`, 'rules');
    } else {
      config.rules = {};
      for (const [id, level] of Object.entries(input.rules as Record<string, unknown>)) {
        if (!isKnownRule(id)) {
          diagnostics.push(unknownRule(id, closestRule(id), { file, ...at(id), where: CONFIG_FILE }));
          continue;
        }
        if (!LEVELS.includes(level as (typeof LEVELS)[number])) {
          invalid(`expected rule ${JSON.stringify(id)} to be "error", "warning", "info" or "off", got ${JSON.stringify(level)}`, id);
          continue;
        }
        config.rules[id] = level as Severity | 'off';
      }
    }
  }
  return { config, file, diagnostics };
}

/** An `unknown-rule` finding: the id, where it was written, and the closest known id. */
export function unknownRule(
  id: string,
  closest: string | undefined,
  { file, line, column, where }: { file: string; line?: number; column?: number; where: string },
): Diagnostic {
  const suggestion = closest ? ` (did you mean "${closest}"?)` : '';
  return {
    ruleId: 'unknown-rule',
    severity: 'error',
    message: id ? `unknown rule id "${id}" in ${where}${suggestion}` : `${where} names no rule id`,
    hint:
      closest && id
        ? `write "${closest}", or another id from the rule list (docs/lint.md, "Lint rules")`
        : 'name the rules to silence, e.g. `lint-ignore drop-column` (docs/lint.md, "Lint rules")',
    file,
    line,
    column,
    source: 'pg-migrate-tasks',
  };
}

/** The candidate nearest to `id` by edit distance (ties: the first), or undefined when there are none. */
export function closest(id: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(id, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
