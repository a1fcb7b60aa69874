import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { requireConfig, type TaskContext } from '../context';
import type { Config, Direction } from '../../settings/config';
import { defineTask, type DescribedTask } from '../define-task';
import { dryRunMigrations } from '../../engine/dry-run';
import { TaskError, messageOf } from '../../util/errors';
import { readAppliedNames } from '../../db/ledger';
import { migrationUrl } from '../../engine/migration-role';
import { readMigrationFolder, type MigrationFolder } from '../../sources/migration-folder';
import { assertLintClean } from '../../lint/preflight';
import { runMigrations } from '../../engine/run-migrations';
import { installSignalHandlers } from '../signals';

export interface MigrateOptions {
  /** Default direction when --direction is not given. Default: 'up'. */
  direction?: Direction;
  /** Default count when --count is not given. Default: all for up, 1 for down. */
  count?: number;
}

/**
 * Runs node-pg-migrate's runner against the started database (or the configured one): one line per migration with
 * its duration, a summary, and on failure one error that names the migration and what to do.
 */
export function createMigrateTask(ctx: TaskContext, options: MigrateOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    {
      name: 'migrate',
      description: 'Run pending migrations (or roll back) with node-pg-migrate, in one transaction',
      flags: ['direction', 'count', 'migrationsDir', 'ignorePattern', 'singleTransaction', 'dryRun', 'lint', 'lockMode', 'lockTimeout', 'statementTimeout'],
    },
    async () => {
      const config = requireConfig(ctx);
      const direction = config.direction ?? options.direction ?? 'up';
      const count = config.count ?? options.count ?? (direction === 'up' ? Number.POSITIVE_INFINITY : 1);
      const folder = await assertMigrationsFolder(config.migrationsDir, config.projectDir, config.ignorePattern);
      const skipped = folder.ignored.filter((entry) => !entry.rollback && !entry.blocksMigrate).map((entry) => entry.file);
      if (skipped.length > 0) {
        const shown = path.relative(config.projectDir, folder.dir) || folder.dir;
        ctx.logger.info(`Skipped ${skipped.length === 1 ? '1 entry' : `${skipped.length} entries`} of ${shown}/ that ${skipped.length === 1 ? 'is not a migration' : 'are not migrations'}: ${skipped.join(', ')} (--ignore-pattern changes what is skipped)`);
      }
      if (config.dryRun) {
        // Prints the SQL; no lock, no ledger table, no row: the database is only read.
        await dryRunMigrations({ config, url: migrationUrl(ctx, config), direction, count, logger: ctx.logger });
        return;
      }

      // A broken migration is refused as a lint diagnostic, not a loader stack trace (--no-lint skips this).
      const url = migrationUrl(ctx, config);
      if (config.lint) {
        // The ledger is read only when an SQL rule found something to judge.
        const willApply = () => migrationsToApply(url, config, direction, count);
        await assertLintClean(config, ctx.logger, { willApply, linted: ctx.preflightLint });
      }
      const started = performance.now();
      installSignalHandlers(ctx);
      if (config.migrateAs === 'superuser') ctx.logger.info(`Migrating as the server's superuser (DB_MIGRATE_AS=superuser), in database ${config.connection.database}`);
      const ran = await runMigrations({ config, url, direction, count, logger: ctx.logger, cleanups: ctx.cleanups });
      ctx.logger.info(summary(direction, ran.length, Math.round(performance.now() - started)));
    },
  );
}

/** The migrations an `up` run would apply (the first `count` not in the ledger); none for `down`. */
async function migrationsToApply(url: string, config: Config, direction: Direction, count: number): Promise<string[]> {
  if (direction === 'down') return [];
  const applied = new Set((await readAppliedNames(url, config)) ?? []);
  const { migrations } = await readMigrationFolder(config.migrationsDir, config.ignorePattern);
  return migrations.map((file) => file.name).filter((name) => !applied.has(name)).slice(0, count);
}

/** The closing line of a migrate run. */
export function summary(direction: Direction, count: number, ms: number): string {
  if (count === 0) return direction === 'up' ? 'Already up to date: no pending migrations' : 'Nothing to roll back: no migration is applied';
  const noun = count === 1 ? 'migration' : 'migrations';
  return `${direction === 'up' ? 'Applied' : 'Rolled back'} ${count} ${noun} in ${ms} ms`;
}

/** The folder exists, is a folder, and holds at least one migration: otherwise "Already up to date" would hide a wrong path. */
async function assertMigrationsFolder(dir: string, projectDir: string, ignorePattern: string | undefined): Promise<MigrationFolder> {
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
  if (folder.migrations.length === 0) {
    throw new TaskError(`migrations folder ${shown}/ holds no migrations (files named <timestamp>_<name>.ts, .js or .sql), so there is nothing to migrate`, {
      hint: 'create one with `gulp migrate:create --name add_first_table`, or point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them',
    });
  }
  return folder;
}
