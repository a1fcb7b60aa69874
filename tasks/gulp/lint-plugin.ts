// The linter as a Gulp stream plugin: `src('migrations/*').pipe(lintMigrations()).pipe(lintReport({ failOn: 'error' }))`.
// Gulp's plugin conventions: object-mode streams of Vinyl files in and out, results attached to the file (as
// gulp-eslint does with `file.eslint`), `PluginError` for failures, no option needed for the usual case.
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import gulplog from 'gulplog';
import PluginError from 'plugin-error';
import type File from 'vinyl';
import type { Logger } from '../util/logger';
import { countFindings, formatSummary, formatText, meetsThreshold, shouldUseColor, type LintFormatter } from '../lint/format';
import { loadLinter } from '../lint/load';
import type { Diagnostic, FileLintResult, LintConfig, Severity } from '../lint/types';

export const PLUGIN_NAME = 'pg-migrate-tasks:lint';

/** What `lintMigrations` attaches to each Vinyl file it lints. */
export interface PgmtLintResult {
  diagnostics: Diagnostic[];
}

/** A Vinyl file after `lintMigrations`. */
export type LintedFile = File & { pgmtLint?: PgmtLintResult };

export interface LintMigrationsOptions {
  /** The migrations folder, for folder-level rules (ordering, duplicate timestamps). Default: each file's folder. */
  migrationsDir?: string;
  /** Where `.pgmt-lint.json` is looked up. Default: the files' `cwd` (gulp's working folder). */
  projectDir?: string;
  /** Overrides `.pgmt-lint.json`. */
  config?: LintConfig;
  /** Files that are new, for the out-of-order rule. Default: the linter's (files git does not track yet). */
  newFiles?: string[];
}

/**
 * Lints the migration files of a gulp stream and attaches the findings to each file as `file.pgmtLint = { diagnostics }`.
 *
 * Lints the file on disk at `file.path` (the linter loads the module the way node-pg-migrate will). The files are
 * linted in one batch when the stream ends (one call per migrations folder), not one by one: the folder-level rules
 * read the whole folder anyway, and one batch shares the TypeScript program and the parser between files. Files then
 * leave in the order they came. Empty files (`file.isNull()`, e.g. folders) pass through untouched; streamed contents
 * (`src(…, { buffer: false })`) are refused with a PluginError.
 * @example src('migrations/*').pipe(lintMigrations()).pipe(lintReport({ failOn: 'error' }))
 */
export function lintMigrations(options: LintMigrationsOptions = {}): Transform {
  const pending: { file: LintedFile; passThrough: boolean }[] = [];
  return new Transform({
    objectMode: true,
    transform(file: LintedFile, _encoding, callback: TransformCallback) {
      if (file.isStream()) {
        callback(new PluginError(PLUGIN_NAME, 'Streams are not supported: use src() without { buffer: false }', { fileName: file.path }));
        return;
      }
      pending.push({ file, passThrough: file.isNull() });
      callback();
    },
    flush(callback: TransformCallback) {
      lintBatch(
        pending.filter((item) => !item.passThrough).map((item) => item.file),
        options,
      ).then(
        () => {
          for (const { file } of pending) this.push(file);
          callback();
        },
        (error: unknown) => callback(new PluginError(PLUGIN_NAME, error instanceof Error ? error : String(error), { showStack: true })),
      );
    },
  });
}

async function lintBatch(files: LintedFile[], { migrationsDir, projectDir, config, newFiles }: LintMigrationsOptions): Promise<void> {
  if (files.length === 0) return;
  const { lintMigrationFiles } = loadLinter();
  const byFolder = new Map<string, LintedFile[]>();
  for (const file of files) {
    const folder = path.resolve(migrationsDir ?? path.dirname(file.path));
    const group = byFolder.get(folder);
    if (group) group.push(file);
    else byFolder.set(folder, [file]);
  }
  for (const [folder, group] of byFolder) {
    const results = await lintMigrationFiles(
      group.map((file) => file.path),
      { migrationsDir: folder, projectDir: projectDir ?? group[0]!.cwd, ...(config ? { config } : {}), ...(newFiles ? { newFiles } : {}) },
    );
    const byPath = new Map(results.map((result) => [path.resolve(result.file), result]));
    for (const file of group) file.pgmtLint = { diagnostics: byPath.get(path.resolve(file.path))?.diagnostics ?? [] };
  }
}

export interface LintReportOptions {
  /** The lowest severity that fails the stream with a PluginError at its end. Default `error`; `never` only reports. */
  failOn?: Severity | 'never';
  /** Turns every file's results into the report's text. Default: `formatText` (grouped by file, then a summary). */
  formatter?: LintFormatter;
  /** Where the report goes, one `info` per non-empty line. Default: gulplog (gulp prints it with its timestamps). */
  logger?: Logger;
  /** File names in the report are relative to it. Default: the files' `cwd`. */
  projectDir?: string;
  /** ANSI colours. Default: when stdout is a terminal, unless `NO_COLOR` is set (`FORCE_COLOR` forces them). */
  color?: boolean;
}

/**
 * Prints the findings `lintMigrations` attached, grouped by file, with a summary line, when the stream ends; then
 * fails the stream with a PluginError if a finding is at or above `failOn`. Files pass through unchanged, so it
 * can sit in the middle of a pipeline. Files without results (not linted) are left out of the report.
 * @example src('migrations/*').pipe(lintMigrations()).pipe(lintReport({ failOn: 'warning' }))
 */
export function lintReport({
  failOn = 'error',
  formatter = formatText,
  logger = gulplog,
  projectDir,
  color = shouldUseColor(),
}: LintReportOptions = {}): Transform {
  if (!['error', 'warning', 'info', 'never'].includes(failOn)) {
    throw new PluginError(PLUGIN_NAME, `Expected \`failOn\` to be one of error, warning, info, never, got ${JSON.stringify(failOn)}`);
  }
  const results: FileLintResult[] = [];
  let cwd: string | undefined;
  return new Transform({
    objectMode: true,
    transform(file: LintedFile, _encoding, callback: TransformCallback) {
      if (file.pgmtLint) {
        results.push({ file: file.path, diagnostics: file.pgmtLint.diagnostics });
        cwd ??= file.cwd;
      }
      callback(null, file);
    },
    flush(callback: TransformCallback) {
      const reportDir = projectDir ?? cwd ?? process.cwd();
      // One log line each (gulp prefixes its time); gulp drops empty lines, so they are left out.
      for (const line of formatter(results, { projectDir: reportDir, color }).split('\n')) if (line) logger.info(line);
      const failing = results.some(({ diagnostics }) => diagnostics.some(({ severity }) => meetsThreshold(severity, failOn)));
      if (!failing) {
        callback();
        return;
      }
      const summary = formatSummary(countFindings(results));
      callback(new PluginError(PLUGIN_NAME, `lint found problems at or above "${failOn}": ${summary}`, { showProperties: false }));
    },
  });
}
