import path from 'node:path';
import type { Client } from 'pg';
import { describeChecksumFailure, recordChecksums, recordChecksumsWith, type RanMigration } from '../db/checksums';
import type { Cleanups } from '../util/cleanups';
import type { Direction } from '../settings/settings';
import type { MigrationSettings } from './types';
import { sessionsHoldingLocks } from '../db/lock-diagnosis';
import { explainMigrationFailure, isTimeoutFailure } from './migration-errors';
import { acquireMigrationLock, applySessionTimeouts, migrationLockId, MigrationLockError, releaseMigrationLock } from '../db/migration-lock';
import { MigrationProgress } from './migration-progress';
import type { Logger } from '../util/logger';
import { DEFAULT_IGNORE_PATTERN, readMigrationFolder } from '../sources/migration-folder';
import { assertRollbacksExist, sqlLoaderStrategies } from '../sources/sql-rollbacks';
import { readAppliedNames, readLedger } from '../db/ledger';
import { withClient } from '../db/pg-client';
import { readRunLeftovers } from '../db/leftovers';
import { ServerUnresponsiveError, watchServer } from '../db/liveness';
import { applyUp, runnerSession } from './apply-up';
import { assertSessionPooling, TransactionPoolerError } from '../db/pooler';

type RunnerOption = import('node-pg-migrate/runner').RunnerOption;

export interface RunMigrationsOptions {
  /** Where the files and the ledger are, how to run, as whom. */
  settings: MigrationSettings;
  /** Application-role URL of the database to migrate. */
  url: string;
  direction: Direction;
  /** How many; Infinity for all. */
  count: number;
  logger: Logger;
  /** The run's cleanups (Ctrl-C, SIGTERM): while the runner works, they cancel its statement on the server. */
  cleanups?: Cleanups;
  /**
   * Run on this session, which the caller opened and holds the migration lock on (verify's many small runs): no
   * connection, lock or session settings of its own. Default: a connection of its own, locked for the run.
   */
  session?: Client;
  /**
   * Read the migration files anew (default): node-pg-migrate's loader keeps modules in Node's cache, and an edited file
   * must run in its new version. False when the files cannot have changed since the last run (verify).
   */
  reload?: boolean;
  /** Record checksums for migrate:status (default). False for runs whose ledger is thrown away (verify's steps). */
  checksums?: boolean;
}

export type { RanMigration } from '../db/checksums';

/**
 * node-pg-migrate's advisory lock key (its runner's PG_MIGRATE_LOCK_ID, "random but well-known, shared by all
 * instances"), here so that taking the lock does not load the runner; a unit test checks it against the library's.
 */
export const PG_MIGRATE_LOCK_ID = 7_241_865_325_823_964;

/**
 * Runs node-pg-migrate's runner (single transaction unless configured otherwise), printing one line per migration; on
 * failure throws one TaskError naming the migration and what to do. Shared by migrate, redo, verify and watch.
 * Before the runner, on the same session: the run lock (node-pg-migrate's advisory lock, taken here so that
 * `--lock-mode wait` can wait with a bound and a message; the runner then runs with `noLock`), then the session's
 * --lock-timeout / --statement-timeout.
 * @example const ran = await runMigrations({ settings, url: settings.connection.url, direction: 'up', count: Infinity, logger: console });
 */
export async function runMigrations({
  settings,
  url,
  direction,
  count,
  logger,
  cleanups,
  session,
  reload = true,
  checksums = true,
}: RunMigrationsOptions): Promise<RanMigration[]> {
  const lockId = migrationLockId(PG_MIGRATE_LOCK_ID, settings.ledger.runSchema);
  // Imported when it runs (it loads jiti and glob: ~0.2 s that a folder of .sql files applied in batches never needs),
  // from the legacy entry as the renderer and the linter load it: one copy of node-pg-migrate in the process, not two.
  const runner: typeof import('node-pg-migrate/runner').runner = async (options) => (await import('node-pg-migrate/runner')).runner(options);
  // Nothing applied and no ledger table: nothing to roll back, and the runner would create the table.
  if (direction === 'down' && !(await assertRollbacksFor(url, settings, count, session))) return [];
  if (reload) forgetLoadedMigrations(settings.source.migrationsDir);
  const progress = new MigrationProgress(logger, direction);
  const strategies = (await sqlLoaderStrategies()) as unknown as RunnerOption['migrationLoaderStrategies'];
  /** The fast path recorded the checksums in each migration's own transaction. */
  let recordedWithMigrations = false;
  const runnerOptions = {
    dir: settings.source.migrationsDir,
    migrationsTable: settings.ledger.table,
    migrationsSchema: settings.ledger.schema,
    ...(settings.ledger.runSchema !== undefined && { schema: settings.ledger.runSchema, createSchema: true, createMigrationsSchema: true }),
    direction,
    singleTransaction: settings.run.singleTransaction,
    checkOrder: true,
    noLock: true,
    ignorePattern: settings.source.ignorePattern ?? DEFAULT_IGNORE_PATTERN,
    logger: progress.runnerLogger,
  } satisfies Partial<RunnerOption>;
  /** Up with fewer round trips (checksums recorded with the migrations), else the runner on the session, then the checksums. */
  const migrateOn = async (client: Client) => {
    try {
      if (direction === 'up') {
        const fast = await applyUp({
          client,
          settings,
          count,
          progress,
          checksums,
          runner: (dbClient, n, loaders) =>
            runner({ ...runnerOptions, dbClient, count: n, migrationLoaderStrategies: loaders as unknown as RunnerOption['migrationLoaderStrategies'] }),
        });
        if (fast) {
          recordedWithMigrations = true;
          if (fast.checksumFailure !== undefined) logger.warn(describeChecksumFailure(fast.checksumFailure));
          return fast.ran;
        }
      }
      const applied = await runner({
        ...runnerOptions,
        dbClient: runnerSession(client, settings.ledger, { ownTransaction: false }),
        count,
        // The same strategy as node-pg-migrate/migrationLoader's, typed from its legacy entry point.
        migrationLoaderStrategies: strategies,
      });
      // Checksums for migrate:status, on the same session. Not in the runner's transaction (it has committed): a
      // crash between the two leaves "no checksum", never false drift. Failing to record only warns: they ran.
      if (checksums)
        await recordChecksumsWith(client, settings.ledger, applied, direction).catch((error: unknown) => logger.warn(describeChecksumFailure(error)));
      return applied;
    } catch (error) {
      // Per-migration mode leaves the failed migration's transaction open (aborted): end it (before the unlock).
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  };
  try {
    // Our own client (withClient listens for its 'error' events): a connection lost mid-run then rejects the
    // runner's query with a message we explain, instead of escaping as an unhandled 'error' event.
    const ran = session
      ? await migrateOn(session)
      : await withClient(url, async (client) => {
          // Before anything else on the session (a SET would already reach other clients' backends): through a
          // transaction-pooling pooler the lock below would not hold. The backend pid it returns is the one to cancel
          // (through a pooler, the client's processID is the pooler's own).
          const backendPid = await assertSessionPooling(client, url, logger);
          const stopCancelling = cancelOnCleanup(cleanups, url, backendPid, (other) =>
            reportInterruption(other, backendPid, { settings, direction, progress, logger }),
          );
          try {
            await client.query("SET client_connection_check_interval = '1s'").catch(() => undefined);
            await acquireMigrationLock(client, { lockId, mode: settings.run.lockMode, waitTimeoutMs: settings.run.lockWaitMs, logger });
            try {
              await applySessionTimeouts(client, settings.run);
              // A server that freezes mid-run (a paused VM, hung storage) would keep the run waiting forever: watched.
              const watch = watchServer(client, {
                url,
                logger,
                unresponsiveMs: settings.connection.waitTimeoutMs,
                current: () => progress.current,
                everyMs: Math.min(10_000, Math.max(1_000, Math.round(settings.connection.waitTimeoutMs / 3))),
              });
              try {
                return await migrateOn(client);
              } catch (error) {
                throw watch.failure ?? error;
              } finally {
                watch.stop();
              }
            } finally {
              await releaseMigrationLock(client, lockId);
            }
          } finally {
            stopCancelling();
          }
        });
    progress.finish();
    return ran.map(({ name, path }) => ({ name, path }));
  } catch (error) {
    // Another run holds the lock, or a transaction-pooling pooler is in the way: explained already, nothing was changed.
    if (error instanceof MigrationLockError || error instanceof TransactionPoolerError || error instanceof ServerUnresponsiveError) throw error;
    const { migration, completedBefore } = progress.failure(error);
    if (!settings.run.singleTransaction && completedBefore > 0 && checksums && !recordedWithMigrations) {
      // Per-migration transactions: the ones before the failure are committed, so their checksums belong recorded.
      await recordCompleted(url, settings, progress.planned.slice(0, completedBefore), direction).catch((recordError: unknown) =>
        logger.warn(describeChecksumFailure(recordError)),
      );
    }
    // A lock or statement timeout: who holds locks now (our session is gone, so its waits are too) names the likely blocker.
    const lockHolders = isTimeoutFailure(error) ? await withClient(url, (client) => sessionsHoldingLocks(client)).catch(() => undefined) : undefined;
    // What really stayed (a single-transaction run claims a rollback only when its ledger agrees), and INVALID indexes.
    const leftovers = session
      ? undefined
      : await withClient(url, (client) => readRunLeftovers(client, settings.ledger, progress.planned, direction)).catch(() => undefined);
    if (leftovers && !settings.run.singleTransaction) leftovers.committed = [];
    throw explainMigrationFailure(error, {
      settings,
      direction,
      migration,
      detail: progress.failureDetail,
      finishedCount: completedBefore,
      lockHolders,
      leftovers,
      ...(migration !== undefined && progress.outside.has(migration) && { outsideTransaction: progress.outside.get(migration) }),
    });
  }
}

/**
 * An interrupted run must not leave its statement running on the server, holding its locks. While the runner works,
 * the run's cleanups (Ctrl-C, SIGTERM) cancel its statement from a connection of their own (a role may cancel its own
 * sessions; the server then rolls the transaction back), then `report` says what stayed. A gulp killed outright is
 * covered by the session's client_connection_check_interval (set above: the server notices the lost client within a
 * second, even mid-statement; PostgreSQL 14+, ignored before). Returns the function that ends this.
 */
function cancelOnCleanup(cleanups: Cleanups | undefined, url: string, pid: number | undefined, report: (other: Client) => Promise<void>): () => void {
  if (!cleanups || pid === undefined) return () => undefined;
  return cleanups.add('migration statement', async () => {
    await withClient(
      url,
      async (other) => {
        await other.query('SELECT pg_cancel_backend($1)', [pid]);
        await report(other);
      },
      2_000,
    ).catch(() => undefined);
  });
}

/** How long an interrupted run's session may take to stop its cancelled statement before the ledger is read. */
const CANCEL_SETTLE_MS = 2_000;

/**
 * After Ctrl-C cancelled the run's statement: what the database now holds of the run, from its ledger (committed rows
 * only), once the session has stopped. The lines printed so far said which migrations finished, not whether they stay:
 * in one transaction none does.
 */
async function reportInterruption(
  other: Client,
  pid: number,
  { settings, direction, progress, logger }: { settings: MigrationSettings; direction: Direction; progress: MigrationProgress; logger: Logger },
): Promise<void> {
  for (const started = Date.now(); Date.now() - started < CANCEL_SETTLE_MS; await new Promise((resolve) => setTimeout(resolve, 50))) {
    const { rows } = await other.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]);
    if (rows.length === 0) break;
  }
  if (progress.planned.length === 0) return;
  const { committed } = await readRunLeftovers(other, settings.ledger, progress.planned, direction);
  const during = progress.current ? ` during migration ${progress.current}` : '';
  const verb = direction === 'up' ? 'applied' : 'rolled back';
  const rest = progress.planned.filter((name) => !committed.includes(name));
  if (committed.length === 0) {
    const why = settings.run.singleTransaction ? 'its transaction was rolled back' : 'the running migration was rolled back';
    logger.warn(`Interrupted${during}: its statement was cancelled and ${why}; no migration of this run is ${verb}`);
  } else if (rest.length === 0) {
    logger.warn(`Interrupted after the run's migrations were committed: all ${committed.length} stay ${verb}`);
  } else {
    logger.warn(
      `Interrupted${during}: its statement was cancelled. ${committed.length} migration(s) of this run stay ${verb} (committed): ${committed.join(', ')}; not ${verb}: ${rest.join(', ')}`,
    );
  }
}

/**
 * A down run stops before the database is touched when a `.sql` migration it would roll back has no rollback. Returns
 * false when the database has no ledger table (nothing was ever applied), true otherwise (also when it cannot be read:
 * the runner then says why).
 */
async function assertRollbacksFor(url: string, settings: MigrationSettings, count: number, session?: Client): Promise<boolean> {
  const ledger = session ? readLedger(session, settings.ledger).then((entries) => entries?.map((entry) => entry.name)) : readAppliedNames(url, settings.ledger);
  // undefined: no ledger table; null: it could not be read.
  const names = await ledger.catch(() => null);
  if (names === undefined) return false;
  const applied = names ?? [];
  const toRollBack = new Set(applied.slice(Math.max(0, applied.length - count)));
  if (toRollBack.size === 0) return true;
  const { migrations } = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
  assertRollbacksExist(
    migrations.filter((file) => toRollBack.has(file.name)),
    path.relative(settings.source.projectDir, settings.source.migrationsDir) || settings.source.migrationsDir,
  );
  return true;
}

async function recordCompleted(url: string, settings: MigrationSettings, names: string[], direction: Direction): Promise<void> {
  const { migrations } = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
  const completed = migrations.filter((file) => names.includes(file.name));
  await recordChecksums(url, settings.ledger, completed, direction);
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
