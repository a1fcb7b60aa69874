import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readAppliedNames } from '../db/ledger';
import { readBaseline } from '../lint/baseline';
import { startPreflightLint, type PreflightLint } from '../lint/preflight';
import { assertLintClean } from './lint-policy';
import type { Direction } from '../settings/settings';
import { assertRunnableFolder, readMigrationFolder, type MigrationFolder } from '../sources/migration-folder';
import type { Cleanups } from '../util/cleanups';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { dryRunMigrations } from './dry-run';
import { runMigrations, type RanMigration } from './run-migrations';
import type { MigrationSettings } from './types';

export interface MigrateOptions {
  settings: MigrationSettings;
  /** The URL to migrate (the application role's, or the superuser's with DB_MIGRATE_AS=superuser). */
  url: string;
  /** Default when settings.run.direction is not given. Default: 'up'. */
  direction?: Direction;
  /** Default when settings.run.count is not given. Default: all up, 1 down. */
  count?: number;
  logger: Logger;
  /** The run's cleanups: a signal cancels the running statement on the server. */
  cleanups?: Cleanups;
  /** The pre-flight lint, when it was started early (ensureEnv starts it); otherwise it runs now. */
  preflightLint?: PreflightLint;
  /**
   * The database was started by this run (throw-away, or kept locally): nobody else is connected, so production-safety
   * findings are warnings, not refusals. Default false.
   */
  local?: boolean;
}

/** What a migrate run did. */
export interface MigrateResult {
  direction: Direction;
  /** The migrations applied or rolled back, in the order they ran; empty for a dry run. */
  ran: RanMigration[];
  dryRun: boolean;
  ms: number;
}

/**
 * `gulp migrate`: checks the folder, lints it first (unless --no-lint) so that a broken migration is refused with a
 * diagnostic instead of a loader stack trace, then applies (or rolls back) with node-pg-migrate's runner, one line
 * per migration and a closing summary. With --dry-run it prints the SQL instead and changes nothing.
 * @example await migrate({ settings, url: settings.connection.url, logger: console });
 */
export async function migrate({
  settings,
  url,
  direction: defaultDirection,
  count: defaultCount,
  logger,
  cleanups,
  preflightLint,
  local = false,
}: MigrateOptions): Promise<MigrateResult> {
  const { source, run } = settings;
  const direction = run.direction ?? defaultDirection ?? 'up';
  const count = run.count ?? defaultCount ?? (direction === 'up' ? Number.POSITIVE_INFINITY : 1);
  const folder = await assertMigrationsFolder(source.migrationsDir, source.projectDir, source.ignorePattern);
  const skipped = folder.ignored.filter((entry) => !entry.rollback && !entry.blocksMigrate).map((entry) => entry.file);
  if (skipped.length > 0) {
    const shown = path.relative(source.projectDir, folder.dir) || folder.dir;
    logger.info(
      `Skipped ${skipped.length === 1 ? '1 entry' : `${skipped.length} entries`} of ${shown}/ that ${skipped.length === 1 ? 'is not a migration' : 'are not migrations'}: ${skipped.join(', ')} (--ignore-pattern changes what is skipped)`,
    );
  }
  const started = performance.now();
  if (run.dryRun) {
    // Prints the SQL; no lock, no ledger table, no row: the database is only read.
    await dryRunMigrations({ settings, url, direction, count, logger });
    return { direction, ran: [], dryRun: true, ms: Math.round(performance.now() - started) };
  }

  if (run.lint) {
    // The ledger is read only when an SQL rule found something to judge.
    const willApply = () => migrationsToApply(url, settings, direction, count);
    await assertLintClean(source, logger, { willApply, linted: preflightLint ?? startPreflightLint(source), local, baseline: readBaseline(source.projectDir) });
  }
  const migrating = performance.now();
  if (settings.connection.migrateAs === 'superuser') {
    logger.info(`Migrating as the server's superuser (DB_MIGRATE_AS=superuser), in database ${settings.connection.database}`);
  }
  const ran = await runMigrations({ settings, url, direction, count, logger, cleanups });
  const ms = Math.round(performance.now() - migrating);
  logger.info(summary(direction, ran.length, ms));
  return { direction, ran, dryRun: false, ms };
}

/** The migrations an `up` run would apply (the first `count` not in the ledger); none for `down`. */
async function migrationsToApply(url: string, settings: MigrationSettings, direction: Direction, count: number): Promise<string[]> {
  if (direction === 'down') return [];
  const applied = new Set((await readAppliedNames(url, settings.ledger, settings.connection)) ?? []);
  const { migrations } = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
  return migrations
    .map((file) => file.name)
    .filter((name) => !applied.has(name))
    .slice(0, count);
}

/** The closing line of a migrate run. */
export function summary(direction: Direction, count: number, ms: number): string {
  if (count === 0) return direction === 'up' ? 'Already up to date: no pending migrations' : 'Nothing to roll back: no migration is applied';
  const noun = count === 1 ? 'migration' : 'migrations';
  return `${direction === 'up' ? 'Applied' : 'Rolled back'} ${count} ${noun} in ${ms} ms`;
}

/** The folder exists, is a folder, and holds at least one migration: otherwise "Already up to date" would hide a wrong path. */
export async function assertMigrationsFolder(dir: string, projectDir: string, ignorePattern: string | undefined): Promise<MigrationFolder> {
  const shown = path.relative(projectDir, dir) || dir;
  try {
    await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOTDIR' ? 'is a file, not a folder' : code === 'ENOENT' ? 'does not exist' : `cannot be read (${messageOf(error)})`;
    const pointAt = 'point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them';
    throw new TaskError(`migrations folder ${shown}/ ${problem}`, {
      hint: code === 'ENOENT' ? `create it and add a migration, or ${pointAt}` : pointAt,
      cause: error,
    });
  }
  const folder = await readMigrationFolder(dir, ignorePattern);
  assertRunnableFolder(folder, shown);
  if (folder.migrations.length === 0) {
    throw new TaskError(`migrations folder ${shown}/ holds no migrations (files named <timestamp>_<name>.ts, .js or .sql), so there is nothing to migrate`, {
      hint: 'create one with `gulp migrate:create --name add_first_table`, or point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them',
    });
  }
  return folder;
}
