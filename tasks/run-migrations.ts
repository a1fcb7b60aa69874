import type { Config, Direction } from './config';
import { explainMigrationFailure } from './migration-errors';
import { MigrationProgress } from './migration-progress';
import type { Logger } from './logger';
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
    return ran.map(({ name, path }) => ({ name, path }));
  } catch (error) {
    const { migration, completedBefore } = progress.failure(error);
    throw explainMigrationFailure(error, { config, direction, migration, detail: progress.failureDetail, finishedCount: completedBefore });
  }
}
