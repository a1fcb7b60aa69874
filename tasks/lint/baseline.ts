import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TaskError, messageOf } from '../util/errors';
import { blocksRunning } from './rule-classes';
import type { FileLintResult } from './types';

/** The lint baseline, committed beside the project: findings accepted as they are today. */
export const BASELINE_FILE = '.pgmt-lint-baseline.json';
const BASELINE_VERSION = 1;

/** How many findings of one rule one migration may have and still pass (those beyond are new). */
export interface BaselineEntry {
  migration: string;
  rule: string;
  count: number;
}

export interface LintBaseline {
  version: number;
  accepted: BaselineEntry[];
}

/** The project's baseline, or undefined without one. A file that cannot be read or parsed is a TaskError naming it. */
export function readBaseline(projectDir: string): LintBaseline | undefined {
  const file = path.join(projectDir, BASELINE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TaskError(`could not read the lint baseline ${BASELINE_FILE}: ${messageOf(error)}`, { hint: `make it readable, or remove it`, cause: error });
  }
  try {
    const parsed = JSON.parse(text) as LintBaseline;
    if (!Array.isArray(parsed.accepted)) throw new Error('no "accepted" list');
    return parsed;
  } catch (error) {
    throw new TaskError(`the lint baseline ${BASELINE_FILE} is not a baseline file (${messageOf(error)})`, {
      hint: 'write it again with `gulp lint --update-baseline`, or remove it',
      cause: error,
    });
  }
}

/**
 * Writes the baseline: every finding of today that does not stop a migration from running (those must be fixed, not
 * accepted), counted per migration and rule, sorted, so the file diffs well. Returns how many findings it accepts.
 */
export function writeBaseline(projectDir: string, results: readonly FileLintResult[]): { findings: number; migrations: number } {
  const counts = new Map<string, BaselineEntry>();
  for (const { file, diagnostics } of results) {
    const migration = path.parse(file).name;
    for (const { ruleId } of diagnostics) {
      if (blocksRunning(ruleId)) continue;
      const key = `${migration}\0${ruleId}`;
      const entry = counts.get(key) ?? { migration, rule: ruleId, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
  }
  const accepted = [...counts.values()].sort((a, b) => (a.migration === b.migration ? (a.rule < b.rule ? -1 : 1) : a.migration < b.migration ? -1 : 1));
  const baseline: LintBaseline = { version: BASELINE_VERSION, accepted };
  writeFileSync(path.join(projectDir, BASELINE_FILE), `${JSON.stringify(baseline, null, 2)}\n`);
  return { findings: accepted.reduce((sum, entry) => sum + entry.count, 0), migrations: new Set(accepted.map((entry) => entry.migration)).size };
}
