// gulp watch --apply: keeps a local database in step with the migrations folder, one migration at a time.
import path from 'node:path';
import { hashMigrationFile } from '../db/checksums';
import { ledgerReadError, readLedger } from '../db/ledger';
import { parseDatabaseUrl } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import { blocksRunning } from '../lint/rule-classes';
import type { FileLintResult, LintOptions } from '../lint/types';
import type { Logger } from '../util/logger';
import { summary } from './migrate';
import type { MigrationSettings } from './types';
import { readMigrationFolder, type MigrationFile, type MigrationFolder } from '../sources/migration-folder';
import { withClient } from '../db/pg-client';
import { runMigrations } from './run-migrations';
import { loadMigrationModule } from '../lint/load-migration';
import { renderMigration, type LoadedMigration } from '../sources/render-sql';

/** The linter's entry point (tasks/lint/index.ts `lintMigrationFiles`), injectable for tests. */
export type LintFiles = (files: string[], options: LintOptions & { newFiles?: string[] }) => Promise<FileLintResult[]>;

export interface MigrationApplierOptions {
  settings: MigrationSettings;
  /** Application-role URL of the kept database. */
  url: string;
  logger: Logger;
  lint: LintFiles;
  /** Prints a lint result the way the watcher does (for a pending migration that blocks the ones after it). */
  report: (result: FileLintResult, ms: number) => void;
}

/** What `--apply` does; every method prints its outcome and never throws (the watcher keeps going). */
export interface MigrationApplier {
  /** At start: applies the pending migrations in order, stopping before the first with an error-level lint finding. */
  applyPending(): Promise<void>;
  /**
   * After `file` passed lint: when it is pending, applies the pending migrations as applyPending does (so the ones before
   * it, if they pass lint too, and the ones after it that were waiting for it); re-runs it (down 1, then up 1) when it is the newest applied migration and its content changed since it was applied.
   */
  afterPassingLint(file: string): Promise<void>;
}

/** An applied migration, oldest first, with the checksum recorded when it was applied (if any). */
interface AppliedMigration {
  name: string;
  sha256?: string;
}

/**
 * Findings that mean node-pg-migrate cannot load the file. Its runner loads every migration in the folder before it runs
 * one (even with count 1), so one such file anywhere stops every run, not only its own.
 */
const UNLOADABLE_RULES = new Set(['load-error', 'syntax-error']);

/**
 * Creates the `--apply` half of the watcher. The caller serialises the calls (the watcher handles one file at a time),
 * so at most one migration run touches the database at once.
 */
export function createMigrationApplier({ settings, url, logger, lint, report }: MigrationApplierOptions): MigrationApplier {
  const folderName = `${path.relative(settings.source.projectDir, settings.source.migrationsDir) || settings.source.migrationsDir}/`;
  const lintOptions = { migrationsDir: settings.source.migrationsDir, projectDir: settings.source.projectDir, newFiles: [] };

  /** The folder, the ledger, and the migrations not applied yet (in node-pg-migrate's order). */
  async function readState(): Promise<{ folder: MigrationFolder; applied: AppliedMigration[]; pending: MigrationFile[] }> {
    const folder = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
    const applied = await readApplied(url, settings);
    const appliedNames = new Set(applied.map((migration) => migration.name));
    return { folder, applied, pending: folder.migrations.filter((migration) => !appliedNames.has(migration.name)) };
  }

  /**
   * Lints the pending migrations (but `passed`, just linted clean). Undefined, printing why, when node-pg-migrate could
   * not run at all: a file in the folder it cannot load. Otherwise the results, in the order of `pending`.
   */
  async function lintPending(folder: MigrationFolder, pending: MigrationFile[], passed?: string): Promise<FileLintResult[] | undefined> {
    const blocking = folder.ignored.find((entry) => entry.blocksMigrate);
    if (blocking) {
      logger.warn(`Not applied: node-pg-migrate cannot run while ${folderName} holds ${blocking.file}: ${blocking.reason}`);
      return undefined;
    }
    const toLint = pending.filter((migration) => migration.path !== passed).map((migration) => migration.path);
    const started = performance.now();
    const results = toLint.length > 0 ? await lint(toLint, lintOptions) : [];
    const unloadable = results.find((result) => result.diagnostics.some((diagnostic) => UNLOADABLE_RULES.has(diagnostic.ruleId)));
    if (unloadable) {
      report(unloadable, Math.round(performance.now() - started));
      logger.warn(
        `Not applied: node-pg-migrate loads every migration in ${folderName} before it runs one, and ${path.basename(unloadable.file)} ` +
          'cannot be loaded (above): fix it and save it',
      );
      return undefined;
    }
    return results;
  }

  /**
   * Applies the pending migrations in order, stopping before the first with an error-level lint finding (whose findings
   * are printed). `passed`: a file just linted clean, not linted again.
   */
  async function applyPassing(folder: MigrationFolder, pending: MigrationFile[], passed?: string): Promise<void> {
    const started = performance.now();
    const results = await lintPending(folder, pending, passed);
    if (!results) return;
    const blocked = results.find((result) => result.diagnostics.some((diagnostic) => diagnostic.severity === 'error' && blocksRunning(diagnostic.ruleId)));
    const blockedAt = blocked ? pending.findIndex((migration) => migration.path === path.resolve(blocked.file)) : -1;
    let runnable = blockedAt === -1 ? pending.length : blockedAt;
    // An untouched `migrate:create` template renders no SQL: applying it would record it, and the real up written next
    // would then be "edited" and re-run with a down for an up that never ran. Hold it (and those after it) back.
    const empty = await firstEmpty(pending.slice(0, runnable));
    if (empty !== -1) runnable = empty;
    if (runnable > 0) {
      const runStarted = performance.now();
      const ran = await runMigrations({ settings, url, direction: 'up', count: runnable, logger });
      logger.info(summary('up', ran.length, Math.round(performance.now() - runStarted)));
    }
    if (empty !== -1) {
      logger.info(`Not applied yet: ${pending[empty]!.name} renders no SQL (an untouched template?); it is applied once its up does something`);
      return;
    }
    if (blocked) {
      report(blocked, Math.round(performance.now() - started));
      const after = pending.length - blockedAt - 1;
      logger.warn(
        `Not applied: ${pending[blockedAt]!.name} has lint errors` +
          (after > 0 ? `, and the ${plural(after, 'pending migration')} after it wait${after === 1 ? 's' : ''} for it` : '') +
          ': fix it and save it to apply it',
      );
    }
  }

  /** The index of the first migration whose up renders no statement, or -1. A file that cannot be rendered counts as not empty. */
  async function firstEmpty(migrations: MigrationFile[]): Promise<number> {
    for (const [index, migration] of migrations.entries()) {
      const loaded = await loadMigrationModule(migration.path);
      if (!loaded.ok) continue;
      const actions = loaded.exports as unknown as LoadedMigration['actions'];
      try {
        const candidate = { name: migration.name, path: migration.path, actions, shorthands: { ...(actions.shorthands ?? {}) } };
        const rendered = await renderMigration(candidate, { direction: 'up', projectDir: settings.source.projectDir });
        if (rendered.statements.length === 0) return index;
      } catch {
        // Rendering needs shorthands of earlier migrations, or fails for real: the runner reports it.
      }
    }
    return -1;
  }

  /** Down 1, then up 1: two runner calls (two transactions), as `gulp migrate:redo` does. */
  async function rerun(migration: MigrationFile): Promise<void> {
    const started = performance.now();
    await runMigrations({ settings, url, direction: 'down', count: 1, logger });
    try {
      await runMigrations({ settings, url, direction: 'up', count: 1, logger });
    } catch (error) {
      throw new TaskError(`${migration.name} was rolled back but could not be applied again, so it is not applied now:\n${withoutHint(error)}`, {
        hint: `fix ${migration.file} and save it: the watcher applies it again once it passes lint`,
        cause: error,
      });
    }
    logger.info(`Re-ran ${migration.name} (down, then up) in ${Math.round(performance.now() - started)} ms`);
  }

  async function guarded(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      // The one-shot commands' hints say "run the command again"; here, saving the file again is what runs it.
      const text = messageOf(explain(error, url, settings)).replace(/,? ?then run the command again/g, ', then save the file again');
      logger.error(`✗ ${text}\n  (still watching)`);
    }
  }

  return {
    applyPending: () =>
      guarded(async () => {
        const { folder, applied, pending } = await readState();
        if (pending.length === 0) {
          logger.info(`Database up to date: ${plural(applied.length, 'migration')} applied`);
          return;
        }
        logger.info(`Database: ${plural(applied.length, 'migration')} applied, ${pending.length} pending in ${folderName}: applying those that pass lint`);
        await applyPassing(folder, pending);
      }),

    afterPassingLint: (file) =>
      guarded(async () => {
        const { folder, applied, pending } = await readState();
        const migration = folder.migrations.find((candidate) => candidate.path === path.resolve(file));
        if (!migration) return; // Not a migration node-pg-migrate would run (a lint rule reports the name).
        const index = applied.findIndex((entry) => entry.name === migration.name);
        if (index === -1) {
          await applyPassing(folder, pending, migration.path);
          return;
        }
        if (index !== applied.length - 1) {
          const back = applied.length - index;
          logger.info(
            `${migration.file} is applied and not the newest applied migration: not re-run (the database keeps the version it applied; ` +
              `\`gulp migrate --direction down --count ${back}\` rolls back to before it)`,
          );
          return;
        }
        const recorded = applied[index]!.sha256;
        if (recorded !== undefined && recorded === (await hashMigrationFile(migration.path))) {
          logger.info(`${migration.file} is applied and unchanged since: nothing to re-run`);
          return;
        }
        if (await lintPending(folder, pending)) await rerun(migration);
      }),
  };
}

/** The ledger, oldest first (run_on, id: node-pg-migrate's own order), with recorded checksums; empty before any run. */
async function readApplied(url: string, settings: MigrationSettings): Promise<AppliedMigration[]> {
  const entries = await withClient(url, (client) => readLedger(client, settings.ledger));
  return (entries ?? []).map(({ name, recorded }) => ({ name, ...(recorded ? { sha256: recorded } : {}) }));
}

/** A TaskError as it is; a failure to read the ledger (or to reach the database) in words a user can act on. */
function explain(error: unknown, url: string, settings: MigrationSettings): unknown {
  if (error instanceof TaskError) return error;
  return ledgerReadError(error, settings.ledger, parseDatabaseUrl(url, []) ?? settings.connection);
}

/** A TaskError's message without its hint line (the caller brings its own), or any error's message. */
function withoutHint(error: unknown): string {
  const message = messageOf(error);
  if (error instanceof TaskError && error.hint) return message.slice(0, message.length - `\n  hint: ${error.hint}`.length);
  return message;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
