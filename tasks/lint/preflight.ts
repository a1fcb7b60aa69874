// migrate's pre-flight: lint the folder first, so a broken migration is refused with a diagnostic (file:line:col,
// rule, hint) instead of failing half-way through node-pg-migrate's loader with a stack trace.
import path from 'node:path';
import type { SourceSettings } from '../settings/settings';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { countFindings, formatFile, formatSummary } from './format';
import { loadLinter } from './load';
import type { FileLintResult, Severity } from './types';

/** The whole folder linted for the pre-flight (syntax only), as {@link startPreflightLint} returns it. */
export type PreflightLint = Promise<{ results: FileLintResult[]; ms: number }>;

/**
 * Starts linting the migrations folder for migrate's pre-flight without waiting for it: ensureEnv calls this so the
 * linting runs while the database starts (tens of ms when no migration changed since the last lint: the lint cache
 * answers without loading the TypeScript compiler, the SQL parser or any migration; ~0.3 s and up once one changed).
 * Syntax only, no type-check: a cold TypeScript program costs ~0.8–1.7 s on every migrate, and a type error does not
 * stop node-pg-migrate's loader (jiti); `gulp lint` and `tsc` report type errors. The linter is loaded only when this
 * runs, so it costs nothing to tasks that never migrate. A failure surfaces when the result is awaited.
 */
export function startPreflightLint(source: SourceSettings): PreflightLint {
  const linting = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
    const started = performance.now();
    const { lintMigrationsFolder } = loadLinter();
    const results = await lintMigrationsFolder({
      migrationsDir: source.migrationsDir,
      projectDir: source.projectDir,
      typeCheck: false,
      ignorePattern: source.ignorePattern,
    });
    return { results, ms: Math.round(performance.now() - started) };
  });
  linting.catch(() => undefined);
  return linting;
}

/**
 * Throws a TaskError listing every error-level finding of the pre-flight lint (`linted`, or the folder linted now);
 * SQL rules count only for `willApply`, when given. Hint: fix them, or run with `--no-lint`. Warnings do not block:
 * they are counted in one `warn` line that points at `gulp lint`.
 * @example if (settings.run.lint) await assertLintClean(settings.source, logger);
 */
export async function assertLintClean(
  source: SourceSettings,
  logger: Logger,
  {
    willApply,
    linted = startPreflightLint(source),
  }: {
    /** The names this run applies, or how to get them (read only when an SQL rule found something). */
    willApply?: readonly string[] | (() => Promise<readonly string[]>);
    linted?: PreflightLint;
  } = {},
): Promise<void> {
  const { SQL_RULE_IDS } = loadLinter();
  const { results: all, ms } = await linted;
  // Only the SQL this run applies is judged: an applied migration's SQL is history (judging it again would block every
  // run of an adopted project, and silencing it would edit an applied file). Whether every file loads always matters:
  // the runner loads them all.
  const sqlFindings = all.some(({ diagnostics }) => diagnostics.some((diagnostic) => SQL_RULE_IDS.has(diagnostic.ruleId)));
  const applying = typeof willApply === 'function' ? (sqlFindings ? await willApply() : undefined) : willApply;
  const judged = applying ? new Set(applying) : undefined;
  const results = all.map(({ file, diagnostics }) => ({
    file,
    diagnostics: judged && !judged.has(path.parse(file).name) ? diagnostics.filter((diagnostic) => !SQL_RULE_IDS.has(diagnostic.ruleId)) : diagnostics,
  }));
  const counts = countFindings(results);
  logger.debug?.(`Lint pre-flight: ${formatSummary(counts)} (linted in ${ms} ms)`);

  const blocking = only(results, 'error');
  if (blocking.length === 0) {
    if (counts.warnings > 0) logger.warn(`Lint: ${formatSummary(countFindings(only(results, 'warning')))} (not blocking; \`gulp lint\` shows them)`);
    return;
  }

  const errors = countFindings(blocking).errors;
  const folder = `${path.relative(source.projectDir, source.migrationsDir) || source.migrationsDir}/`;
  const report = blocking.flatMap((result) => formatFile(result, { projectDir: source.projectDir })).map((line) => `  ${line}`);
  throw new TaskError([`lint found ${errors === 1 ? '1 error' : `${errors} errors`} in ${folder}, so nothing was migrated:`, ...report].join('\n'), {
    hint: 'fix them (`gulp lint` lists every finding), or run with --no-lint',
  });
}

/** The files with findings of exactly this severity, with only those findings. */
function only(results: readonly FileLintResult[], severity: Severity): FileLintResult[] {
  return results
    .map(({ file, diagnostics }) => ({ file, diagnostics: diagnostics.filter((diagnostic) => diagnostic.severity === severity) }))
    .filter(({ diagnostics }) => diagnostics.length > 0);
}
