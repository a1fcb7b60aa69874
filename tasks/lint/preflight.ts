// migrate's pre-flight: lint the folder first, so a broken migration is refused with a diagnostic (file:line:col,
// rule, hint) instead of failing half-way through node-pg-migrate's loader with a stack trace.
import type { SourceSettings } from '../settings/settings';
import { loadLinter } from './load';
import type { FileLintResult } from './types';

/** The whole folder linted for the pre-flight (syntax only), as {@link startPreflightLint} returns it. */
export type PreflightLint = Promise<{ results: FileLintResult[]; ms: number }>;

/**
 * Starts linting the migrations folder for migrate's pre-flight without waiting for it: ensureEnv calls this so the
 * linting runs while the settings are checked; startDb waits for it before it starts a server (tens of ms when no migration changed since the last lint: the lint cache
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
