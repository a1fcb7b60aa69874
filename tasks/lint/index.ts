// The migration linter's public API. PLACEHOLDER until the engine lands (engine helper replaces this file's body):
// the signatures below are the contract the gulp plugin, the lint task, the watcher and migrate's pre-flight use.
import type { FileLintResult, LintOptions, RuleMeta } from './types';

export type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './types';

/** Every rule, with its default severity (file-level and SQL-level). */
export const RULES: RuleMeta[] = [];

/**
 * Lints the given migration files: file-level checks (name, exports, load/syntax/type errors), folder-level checks
 * that involve them (duplicate timestamps, a new file older than the newest), and SQL rules on the SQL each one
 * renders, with suppressions and the project's `.pgmt-lint.json` applied. One result per file, in the order given;
 * never throws for a broken file (that is a diagnostic).
 * @param newFiles files that are new (e.g. the watcher's `add` events), for the out-of-order rule; default: files git
 *   does not track yet
 */
export async function lintMigrationFiles(files: string[], _options: LintOptions & { newFiles?: string[] }): Promise<FileLintResult[]> {
  return files.map((file) => ({ file, diagnostics: [] }));
}

/** Lints every migration file in `options.migrationsDir` (non-migration files are skipped). */
export async function lintMigrationsFolder(options: LintOptions): Promise<FileLintResult[]> {
  return lintMigrationFiles([], options);
}
