/** How much a finding matters: `error` fails `gulp lint` and blocks `migrate`; the others only inform. */
export type Severity = 'error' | 'warning' | 'info';

/** One finding of the linter, about one migration file. */
export interface Diagnostic {
  /** Rule id, kebab-case, e.g. `create-index-not-concurrently`. */
  ruleId: string;
  severity: Severity;
  /** What is wrong, one line. */
  message: string;
  /** What to do instead, one line. */
  hint: string;
  /** Absolute path of the migration file. */
  file: string;
  /** 1-based position in the file, where it can be known. */
  line?: number;
  column?: number;
  /** Who found it: our rules, or Squawk when it is installed. */
  source: 'pg-migrate-tasks' | 'squawk';
}

/** A rule's identity and defaults, listed in docs/lint.md and validated against suppressions and the config file. */
export interface RuleMeta {
  id: string;
  defaultSeverity: Severity | 'off';
  /** One line for the README / `--rules` listing. */
  description: string;
}

/** Project-wide choices, from `.pgmt-lint.json` in the project folder (every key optional). */
export interface LintConfig {
  /** Per rule: a severity, or `off`. Unknown rule ids are reported. */
  rules?: Record<string, Severity | 'off'>;
  /** Run Squawk on the rendered SQL too when it is installed (default true). */
  squawk?: boolean;
  /** Type-check TS migrations (`type-error`); default true. `LintOptions.typeCheck` wins over it. */
  typeCheck?: boolean;
}

/** The findings for one file. */
export interface FileLintResult {
  file: string;
  diagnostics: Diagnostic[];
}

export interface LintOptions {
  /** The migrations folder (for folder-level checks: ordering, duplicate timestamps). */
  migrationsDir: string;
  /** Where `.pgmt-lint.json` is looked up. */
  projectDir: string;
  /** Overrides the config file. */
  config?: LintConfig;
  /**
   * Type-check TS migrations (`type-error`, with the project's tsconfig.json). Default: the config's `typeCheck`, else
   * true; false checks syntax only, which is much faster on a cold start.
   */
  typeCheck?: boolean;
  /** --ignore-pattern: entries of the folder that are not migrations (default: DEFAULT_IGNORE_PATTERN). */
  ignorePattern?: string;
  /**
   * Reuse each unchanged file's findings from an earlier run (tasks/lint/lint-cache.ts): a warm run over an unchanged
   * folder loads no migration, no TypeScript compiler and no SQL parser. Default true; the watcher turns it off (its
   * compiler stays loaded, and every file it lints has just changed).
   */
  cache?: boolean;
  /**
   * Where the cache lives. Default: `node_modules/.cache/pg-migrate-tasks/lint` in the nearest `node_modules` at or
   * above `projectDir`; without one, nothing is cached.
   */
  cacheDir?: string;
}
