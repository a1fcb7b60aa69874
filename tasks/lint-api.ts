/**
 * `pg-migrate-tasks/lint`: the migration linter on its own — the gulp stream plugin (lint any `gulp.src` of
 * migrations), the folder linter, the formatters and the rule list. Loading it loads the linter (the TypeScript
 * compiler, the WASM PostgreSQL parser); the main entry loads it only when a command lints.
 * @example
 * const { src } = require('gulp');
 * const { lintMigrations, lintReport } = require('pg-migrate-tasks/lint');
 * exports.lintChanged = () => src('migrations/*').pipe(lintMigrations()).pipe(lintReport({ failOn: 'error' }));
 * @packageDocumentation
 */
export {
  lintMigrations,
  lintReport,
  PLUGIN_NAME,
  type LintMigrationsOptions,
  type LintReportOptions,
  type LintedFile,
  type PgmtLintResult,
} from './gulp/lint-plugin';
export { lintProject, LINT_FAILURE_HINT, type LintProjectOptions } from './engine/lint';
export { lintMigrationFiles, lintMigrationsFolder, RULES, CONFIG_FILE } from './lint/index';
export { formatText, formatJson, countFindings, LINT_JSON_VERSION, type LintDocument, type LintCounts, type LintFormatter } from './lint/format';
export type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './lint/types';
