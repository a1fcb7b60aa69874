import path from 'node:path';
import { describeChecksumFailure, recordChecksums } from './checksums';
import type { Config, Direction } from './config';
import { explainMigrationFailure } from './migration-errors';
import { MigrationProgress } from './migration-progress';
import type { Logger } from './logger';
import { readMigrationFolder } from './migration-folder';
import { withClient } from './pg-client';

export interface RunMigrationsOptions {
  config: Config;
  /** Application-role URL of the database to migrate. */
  url: string;
  direction: Direction;
  /** How many; Infinity for all. */
  count: number;
  logger: Logger;
}

/** A migration the runner applied or rolled back. */
export interface RanMigration {
  name: string;
  path: string;
}

/**
 * Runs node-pg-migrate's runner (advisory lock, single transaction unless configured otherwise), printing one line per
 * migration; on failure throws one TaskError naming the migration and what to do. Shared by migrate, redo and verify.
 */
export async function runMigrations({ config, url, direction, count, logger }: RunMigrationsOptions): Promise<RanMigration[]> {
  const { runner } = await import('node-pg-migrate');
  forgetLoadedMigrations(config.migrationsDir);
  const progress = new MigrationProgress(logger, direction);
  try {
    // Our own client (withClient listens for its 'error' events): a connection lost mid-run then rejects the
    // runner's query with a message we explain, instead of escaping as an unhandled 'error' event.
    const ran = await withClient(url, (client) =>
      runner({
        dbClient: client,
        dir: config.migrationsDir,
        migrationsTable: config.migrationsTable,
        direction,
        count,
        singleTransaction: config.singleTransaction,
        checkOrder: true,
        logger: progress.runnerLogger,
      }),
    );
    progress.finish();
    // Checksums for migrate:status. Not in the runner's transaction (it has committed): a crash between the two leaves
    // "no checksum", never false drift. Failing to record only warns: the migrations did run.
    await recordChecksums(url, config, ran, direction).catch((error: unknown) => logger.warn(describeChecksumFailure(error)));
    return ran.map(({ name, path }) => ({ name, path }));
  } catch (error) {
    const { migration, completedBefore } = progress.failure(error);
    if (!config.singleTransaction && completedBefore > 0) {
      // Per-migration transactions: the ones before the failure are committed, so their checksums belong recorded.
      await recordCompleted(url, config, progress.planned.slice(0, completedBefore), direction).catch((recordError: unknown) =>
        logger.warn(describeChecksumFailure(recordError)),
      );
    }
    throw explainMigrationFailure(error, { config, direction, migration, detail: progress.failureDetail, finishedCount: completedBefore });
  }
}

async function recordCompleted(url: string, config: Config, names: string[], direction: Direction): Promise<void> {
  const { migrations } = await readMigrationFolder(config.migrationsDir);
  const completed = migrations.filter((file) => names.includes(file.name));
  await recordChecksums(url, config, completed, direction);
}

/**
 * node-pg-migrate loads .ts/.js migrations through jiti into Node's module cache: in one process (gulp watch, redo's
 * down then up, tests) an edited file would otherwise run in its old version while its checksum is taken anew.
 */
export function forgetLoadedMigrations(dir: string): void {
  const folder = path.resolve(dir) + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(folder)) delete require.cache[key];
  }
}
