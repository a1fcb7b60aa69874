// Which lint findings count, and where: the one place that decides. A finding that stops a migration from running
// (it does not load, does not parse, …) always counts. The production-safety rules count only for new migrations
// (not on the base branch; without git, not applied yet), never for history, never when accepted by the lint
// baseline, and on a database this run started (nobody else is connected to it) they are warnings.
import path from 'node:path';
import type { LintBaseline } from '../lint/baseline';
import { countFindings, formatFile, formatSummary } from '../lint/format';
import type { PreflightLint } from '../lint/preflight';
import { blocksRunning } from '../lint/rule-classes';
import type { Diagnostic, FileLintResult } from '../lint/types';
import type { SourceSettings } from '../settings/settings';
import { gitHistory } from '../sources/history';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';

/** Which migrations are new, and how that was decided. */
export interface Novelty {
  /** The migration (name without extension) is not history. */
  isNew(name: string): boolean;
  /** `git`: not on `base`; `none`: git cannot tell (everything counts as new, or as pending where a ledger is read). */
  how: 'git' | 'none';
  /** The base branch or ref, for messages (git only). */
  base?: string;
  /** Why git could not tell (none only). */
  reason?: string;
}

/**
 * New versus history, asked by lint, the migrate pre-flight and verify alike: git's view (not in the migrations folder at
 * the merge base with `source.base`, default the default branch) when the project is a git checkout.
 * @example const novelty = await migrationNovelty(settings.source); novelty.isNew('1732500004000_create_tags')
 */
export async function migrationNovelty(source: Pick<SourceSettings, 'migrationsDir' | 'base'>): Promise<Novelty> {
  const history = await gitHistory(source.migrationsDir, source.base);
  if (history.kind === 'none') return { isNew: () => true, how: 'none', reason: history.reason };
  const onBase = new Set([...history.files].map((file) => path.parse(file).name));
  return { isNew: (name) => !onBase.has(name), how: 'git', base: history.base };
}

/**
 * What is judged: `review` (gulp lint) every new migration; `all` (gulp lint --all) everything; `shared` a run on a
 * database others use (the migrations it applies that are new); `local` a database this run started (the same
 * migrations, their production-safety errors shown as warnings).
 */
export type LintScope = { mode: 'all' } | { mode: 'review' } | { mode: 'shared' | 'local'; applying: ReadonlySet<string> };

/** The findings that count, and what was set aside. */
export interface JudgedLint {
  results: FileLintResult[];
  /** Production-safety findings in history (or in migrations this run does not apply): not judged. */
  history: number;
  /** Findings the lint baseline accepts. */
  accepted: number;
  /** Production-safety errors shown as warnings (local databases). */
  relaxed: number;
}

/**
 * Applies the scope, the novelty and the baseline to every file's findings.
 * @example const { results, history } = judgeLint(all, { scope: { mode: 'review' }, novelty, baseline });
 */
export function judgeLint(
  all: readonly FileLintResult[],
  { scope, novelty, baseline }: { scope: LintScope; novelty: Novelty; baseline?: LintBaseline },
): JudgedLint {
  const judged: JudgedLint = { results: [], history: 0, accepted: 0, relaxed: 0 };
  const allowance = new Map((baseline?.accepted ?? []).map((entry) => [`${entry.migration}\0${entry.rule}`, entry.count]));
  for (const { file, diagnostics } of all) {
    const name = path.parse(file).name;
    const isMigration = /^\d/.test(name);
    const counts = (() => {
      if (scope.mode === 'all' || !isMigration) return true;
      if (scope.mode === 'review') return novelty.isNew(name);
      return scope.applying.has(name) && novelty.isNew(name);
    })();
    const kept: Diagnostic[] = [];
    for (const diagnostic of diagnostics) {
      if (blocksRunning(diagnostic.ruleId) || scope.mode === 'all') {
        kept.push(diagnostic);
        continue;
      }
      if (!counts) {
        judged.history += 1;
        continue;
      }
      const key = `${name}\0${diagnostic.ruleId}`;
      const left = allowance.get(key) ?? 0;
      if (left > 0) {
        allowance.set(key, left - 1);
        judged.accepted += 1;
        continue;
      }
      if (scope.mode === 'local' && diagnostic.severity === 'error') {
        judged.relaxed += 1;
        kept.push({ ...diagnostic, severity: 'warning' });
      } else {
        kept.push(diagnostic);
      }
    }
    judged.results.push({ file, diagnostics: kept });
  }
  return judged;
}

/**
 * A file's findings as they stand for a database nobody else uses (watch --apply): production-safety errors become
 * warnings; what stops the migration from running stays an error.
 */
export function relaxForLocalDatabase(result: FileLintResult): FileLintResult {
  return {
    file: result.file,
    diagnostics: result.diagnostics.map((diagnostic) =>
      diagnostic.severity === 'error' && !blocksRunning(diagnostic.ruleId) ? { ...diagnostic, severity: 'warning' as const } : diagnostic,
    ),
  };
}

/** `migrations/`, for messages. */
function folderOf(source: Pick<SourceSettings, 'projectDir' | 'migrationsDir'>): string {
  return `${path.relative(source.projectDir, source.migrationsDir) || source.migrationsDir}/`;
}

/** The files with findings of exactly this severity, with only those findings. */
export function onlySeverity(results: readonly FileLintResult[], severity: Diagnostic['severity']): FileLintResult[] {
  return results
    .map(({ file, diagnostics }) => ({ file, diagnostics: diagnostics.filter((diagnostic) => diagnostic.severity === severity) }))
    .filter(({ diagnostics }) => diagnostics.length > 0);
}

/** The refusal of a run: every blocking finding, listed, and what to do. */
export function lintRefusal(blocking: readonly FileLintResult[], source: Pick<SourceSettings, 'projectDir' | 'migrationsDir'>): TaskError {
  const errors = countFindings(blocking).errors;
  const report = blocking.flatMap((result) => formatFile(result, { projectDir: source.projectDir })).map((line) => `  ${line}`);
  return new TaskError([`lint found ${errors === 1 ? '1 error' : `${errors} errors`} in ${folderOf(source)}, so nothing was migrated:`, ...report].join('\n'), {
    hint: 'fix them (`gulp lint` lists every finding), or run with --no-lint',
  });
}

/**
 * Before a database is started: refuses a migration node-pg-migrate could not load or run (the other findings need the
 * ledger to be judged, see assertLintClean). A throw-away server is not started for a run that cannot happen.
 * @example await assertRunnable(ctx.handoff.preflightLint, settings.source);
 */
export async function assertRunnable(linted: PreflightLint, source: Pick<SourceSettings, 'projectDir' | 'migrationsDir'>): Promise<void> {
  const { results } = await linted;
  const blocking = onlySeverity(
    results.map(({ file, diagnostics }) => ({ file, diagnostics: diagnostics.filter((diagnostic) => blocksRunning(diagnostic.ruleId)) })),
    'error',
  );
  if (blocking.length > 0) throw lintRefusal(blocking, source);
}

export interface AssertLintCleanOptions {
  /** The lint results (the pre-flight's, started early). */
  linted: PreflightLint;
  /** The migrations this run applies (read from the ledger only when a production-safety rule found something). */
  willApply: () => Promise<readonly string[]>;
  /** The database was started by this run (throw-away or kept locally): production-safety findings do not block. */
  local: boolean;
  /** The lint baseline, when the project has one. */
  baseline?: LintBaseline;
}

/**
 * migrate's pre-flight verdict: throws a TaskError listing every finding that blocks this run; prints the others that
 * concern what it applies as one warning line.
 * @example await assertLintClean(settings.source, logger, { linted, willApply, local: false });
 */
export async function assertLintClean(
  source: Pick<SourceSettings, 'projectDir' | 'migrationsDir' | 'base'>,
  logger: Logger,
  { linted, willApply, local, baseline }: AssertLintCleanOptions,
): Promise<void> {
  const { results: all, ms } = await linted;
  const judgesSafety = all.some(({ diagnostics }) => diagnostics.some((diagnostic) => !blocksRunning(diagnostic.ruleId)));
  const applying = new Set(judgesSafety ? await willApply() : []);
  const novelty = judgesSafety ? await migrationNovelty(source) : { isNew: () => true, how: 'none' as const };
  const { results, relaxed } = judgeLint(all, { scope: { mode: local ? 'local' : 'shared', applying }, novelty, baseline });
  const counts = countFindings(results);
  logger.debug?.(`Lint pre-flight: ${formatSummary(counts)} (linted in ${ms} ms)`);

  const blocking = onlySeverity(results, 'error');
  if (blocking.length > 0) throw lintRefusal(blocking, source);
  if (counts.warnings === 0) return;
  const warnings = formatSummary(countFindings(onlySeverity(results, 'warning')));
  const because =
    relaxed > 0 ? `; ${relaxed === 1 ? '1 of them is an error' : `${relaxed} of them are errors`} on a database others use, not on this local one` : '';
  logger.warn(`Lint: ${warnings} (not blocking${because}; \`gulp lint\` shows them)`);
}
