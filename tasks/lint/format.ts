// How lint findings are shown: the human report (grouped by file, coloured when the terminal takes colours) and the
// stable `--format json` document.
import path from 'node:path';
import type { Diagnostic, FileLintResult, Severity } from './types';
import { visible } from '../util/errors';

/** Version of the `--format json` document; bumped only when a key changes meaning or disappears. */
export const LINT_JSON_VERSION = 1;

/** How many findings of each severity, and in how many files. */
export interface LintCounts {
  /** Files linted. */
  files: number;
  /** Files with at least one finding. */
  filesWithProblems: number;
  errors: number;
  warnings: number;
  infos: number;
}

/** The `--format json` document (documented in docs/lint.md; keys are stable). */
export interface LintDocument {
  version: typeof LINT_JSON_VERSION;
  /** One entry per linted file, in the order linted (clean files too, with no diagnostics). */
  files: {
    /** Relative to the project folder. */
    file: string;
    diagnostics: {
      ruleId: string;
      severity: Severity;
      message: string;
      hint: string;
      /** 1-based; null when the rule cannot know it. */
      line: number | null;
      column: number | null;
      source: Diagnostic['source'];
    }[];
  }[];
  summary: LintCounts;
  /** What was set aside (added in 1, optional): findings in history, and findings the lint baseline accepts. */
  setAside?: { history: number; accepted: number; base: string | null };
}

export interface FormatOptions {
  /** File names are shown relative to this folder. */
  projectDir: string;
  /** ANSI colours (decide with `shouldUseColor`). Default false. */
  color?: boolean;
}

/** A custom formatter for `lintReport`: the whole report as text, given every file's results. */
export type LintFormatter = (results: readonly FileLintResult[], options: FormatOptions) => string;

const SEVERITY_RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1 };

/** True when `severity` is at or above `threshold` (`never`: nothing is). */
export function meetsThreshold(severity: Severity, threshold: Severity | 'never'): boolean {
  return threshold !== 'never' && SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold];
}

/** Counts findings by severity over all results. */
export function countFindings(results: readonly FileLintResult[]): LintCounts {
  const counts: LintCounts = { files: results.length, filesWithProblems: 0, errors: 0, warnings: 0, infos: 0 };
  for (const { diagnostics } of results) {
    if (diagnostics.length > 0) counts.filesWithProblems += 1;
    for (const { severity } of diagnostics) {
      if (severity === 'error') counts.errors += 1;
      else if (severity === 'warning') counts.warnings += 1;
      else counts.infos += 1;
    }
  }
  return counts;
}

/**
 * The human report: each file with findings (relative path), its findings in file order as
 * `  12:5  error  message  rule-id` and `    hint: …`, a blank line, then the summary line.
 * @example formatText(results, { projectDir: process.cwd() })
 * // migrations/1732600000000_add_index.ts
 * //   3:3  warning  create index without CONCURRENTLY on existing table "users"  create-index-not-concurrently
 * //     hint: use pgm.createIndex(…, { concurrently: true }) and pgm.noTransaction()
 * //
 * // 1 warning in 1 file
 */
export function formatText(results: readonly FileLintResult[], { projectDir, color = false }: FormatOptions): string {
  const paint = painter(color);
  const lines: string[] = [];
  for (const result of results) {
    if (result.diagnostics.length === 0) continue;
    lines.push(...formatFile(result, { projectDir, color }), '');
  }
  lines.push(formatSummary(countFindings(results), paint));
  return lines.join('\n');
}

/** One file's block: its relative path, then one line and one hint line per finding. */
export function formatFile({ file, diagnostics }: FileLintResult, { projectDir, color = false }: FormatOptions): string[] {
  const paint = painter(color);
  const sorted = sortDiagnostics(diagnostics);
  const positions = sorted.map(position);
  const positionWidth = Math.max(...positions.map((text) => text.length));
  const severityWidth = Math.max(...sorted.map(({ severity }) => severity.length));
  // A file name or SQL with control characters (refused by name-pattern) is written out, not sent to the terminal raw.
  const lines = [paint.underline(visible(relativeFile(file, projectDir)))];
  sorted.forEach((diagnostic, index) => {
    const severity = paint[diagnostic.severity](diagnostic.severity.padEnd(severityWidth));
    lines.push(`  ${paint.dim(positions[index]!.padEnd(positionWidth))}  ${severity}  ${visible(diagnostic.message)}  ${paint.dim(diagnostic.ruleId)}`);
    if (diagnostic.hint) lines.push(`    ${paint.dim(`hint: ${visible(diagnostic.hint)}`)}`);
  });
  return lines;
}

/** `2 errors, 1 warning in 3 files`, or `No problems in 5 migrations`. */
export function formatSummary(counts: LintCounts, paint: Painter = painter(false)): string {
  const { errors, warnings, infos, files, filesWithProblems } = counts;
  if (errors + warnings + infos === 0) return paint.ok(`No problems in ${plural(files, 'migration')}`);
  const parts = [
    errors > 0 ? plural(errors, 'error') : undefined,
    warnings > 0 ? plural(warnings, 'warning') : undefined,
    infos > 0 ? `${infos} info` : undefined,
  ].filter(Boolean);
  const text = `${parts.join(', ')} in ${plural(filesWithProblems, 'file')}`;
  return errors > 0 ? paint.error(paint.bold(text)) : warnings > 0 ? paint.warning(paint.bold(text)) : text;
}

/** The stable JSON document of `--format json` (one line per key, two-space indent, trailing newline). */
export function formatJson(
  results: readonly FileLintResult[],
  { projectDir, setAside }: Pick<FormatOptions, 'projectDir'> & { setAside?: LintDocument['setAside'] },
): string {
  const document: LintDocument = {
    version: LINT_JSON_VERSION,
    files: results.map(({ file, diagnostics }) => ({
      file: relativeFile(file, projectDir),
      diagnostics: sortDiagnostics(diagnostics).map((diagnostic) => ({
        ruleId: diagnostic.ruleId,
        severity: diagnostic.severity,
        message: diagnostic.message,
        hint: diagnostic.hint,
        line: diagnostic.line ?? null,
        column: diagnostic.column ?? null,
        source: diagnostic.source,
      })),
    })),
    summary: countFindings(results),
    ...(setAside ? { setAside } : {}),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Whether to colour output written to a stream: `FORCE_COLOR` (other than `0`/`false`) forces it on, as in Node;
 * `NO_COLOR` (non-empty, https://no-color.org) turns it off; gulp's `--color` / `--no-color` too; otherwise only when
 * the stream is a terminal.
 */
export function shouldUseColor({
  env = process.env,
  argv = [],
  isTTY = process.stdout.isTTY === true,
}: { env?: Readonly<Record<string, string | undefined>>; argv?: readonly string[]; isTTY?: boolean } = {}): boolean {
  if (argv.includes('--no-color')) return false;
  if (argv.includes('--color')) return true;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase());
  if (env.NO_COLOR) return false;
  return isTTY;
}

/** File-level findings (no position) first, then by line and column; equal positions keep the linter's order. */
function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

function position({ line, column }: Diagnostic): string {
  if (line === undefined) return '-';
  return column === undefined ? `${line}` : `${line}:${column}`;
}

function relativeFile(file: string, projectDir: string): string {
  const relative = path.relative(projectDir, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

type Style = (text: string) => string;
/** Small ANSI helpers; identity functions when colour is off. */
export interface Painter {
  error: Style;
  warning: Style;
  info: Style;
  ok: Style;
  bold: Style;
  dim: Style;
  underline: Style;
}

const ANSI: Record<keyof Painter, [number, number]> = {
  error: [31, 39],
  warning: [33, 39],
  info: [36, 39],
  ok: [32, 39],
  bold: [1, 22],
  dim: [2, 22],
  underline: [4, 24],
};

export function painter(color: boolean): Painter {
  const styles = {} as Painter;
  for (const [name, [open, close]] of Object.entries(ANSI) as [keyof Painter, [number, number]][]) {
    styles[name] = color ? (text) => `\u001B[${open}m${text}\u001B[${close}m` : (text) => text;
  }
  return styles;
}
