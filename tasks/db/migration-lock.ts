import type { Client } from 'pg';
import type { LockMode, RunSettings } from '../settings/settings';
import { formatDuration, MAX_TIMEOUT_MS } from '../settings/duration';
import { TaskError } from '../util/errors';
import { advisoryLockHolder, describeSession, type SessionInfo } from './lock-diagnosis';
import type { Logger } from '../util/logger';

export interface MigrationLockOptions {
  /** The advisory lock key, as node-pg-migrate uses it (its PG_MIGRATE_LOCK_ID), in decimal. */
  lockId: string;
  /** `fail`: throw at once when another run holds the lock; `wait`: wait for it up to `waitTimeoutMs`. */
  mode: LockMode;
  waitTimeoutMs: number;
  logger: Logger;
}

const LOCK_NOT_AVAILABLE = '55P03';

/** Another run holds the migration lock: refused (`fail`) or waited for in vain (`wait`). Nothing was changed. */
export class MigrationLockError extends TaskError {}

/**
 * The advisory lock key of a run: node-pg-migrate's own (so a run of its CLI and one of these tasks exclude each
 * other), or, for migrations run in a schema of their own (a `--schemas` fleet, each schema with its own ledger), a key
 * derived from the schema's name, so tenants of one database migrate side by side while two runs on one tenant still
 * exclude each other.
 * @example const lockId = migrationLockId(PG_MIGRATE_LOCK_ID, settings.ledger.runSchema);
 */
export function migrationLockId(base: number | bigint | string, schema?: string): string {
  if (schema === undefined) return String(base);
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(schema, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return String(BigInt(base) + 1n + BigInt(hash));
}

/**
 * Takes the migration run lock (node-pg-migrate's session advisory lock) on `client`, so only one run migrates a
 * database at a time: the runner is then called with `noLock`, on the same session. When another run holds it, fails
 * at once naming that session, or (`wait`) says once that it waits and blocks until the lock is free or the wait
 * times out (a server-side lock_timeout: no polling, no busy loop, and the wait ends with the session if we die).
 * @example await acquireMigrationLock(client, { lockId, mode: 'wait', waitTimeoutMs: 30_000, logger })
 */
export async function acquireMigrationLock(client: Client, { lockId, mode, waitTimeoutMs, logger }: MigrationLockOptions): Promise<void> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [lockId]);
  if (rows[0]?.locked) return;
  const holder = await findHolder(client, lockId);
  if (mode === 'fail') {
    throw new MigrationLockError(`another migration is running on this database${holder ? ` (${describeSession(holder)})` : ''}`, {
      hint:
        'wait for it to finish and run the command again, or pass `--lock-mode wait` to wait for it (up to --timeout)' +
        (holder ? `; if no migration is running, that session is stuck: end it with SELECT pg_terminate_backend(${holder.pid})` : ''),
    });
  }

  logger.info(
    `Waiting for another migration run on this database to finish${holder ? ` (${describeSession(holder)})` : ''}; giving up after ${formatDuration(waitTimeoutMs)}`,
  );
  const started = performance.now();
  // Only this statement waits this long: the run's own lock_timeout / statement_timeout are set after it.
  await client.query("SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)", [
    `${Math.min(waitTimeoutMs, MAX_TIMEOUT_MS)}ms`,
  ]);
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockId]);
  } catch (error) {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    const still = await findHolder(client, lockId);
    throw new MigrationLockError(
      `gave up after ${formatDuration(waitTimeoutMs)} waiting for another migration run on this database to finish${still ? ` (${describeSession(still)})` : ''}`,
      {
        hint:
          'run the command again once it has finished, or wait longer with --timeout SECONDS (DB_WAIT_TIMEOUT)' +
          (still ? `; if that run is stuck, end its session: SELECT pg_terminate_backend(${still.pid})` : ''),
        cause: error,
      },
    );
  } finally {
    await client.query('RESET lock_timeout; RESET statement_timeout').catch(() => undefined);
  }
  logger.info(`The other migration run finished: continuing (waited ${Math.round(performance.now() - started)} ms)`);
}

/** Releases the lock taken by {@link acquireMigrationLock}; a lost connection has released it already. */
export async function releaseMigrationLock(client: Client, lockId: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockId]).catch(() => undefined);
}

/**
 * Sets the run's --lock-timeout and --statement-timeout (or DB_LOCK_TIMEOUT / DB_STATEMENT_TIMEOUT) on the session
 * the migrations run in; unset ones keep the server's setting.
 */
export async function applySessionTimeouts(client: Client, run: Pick<RunSettings, 'lockTimeoutMs' | 'statementTimeoutMs'>): Promise<void> {
  const settings: [string, number | undefined][] = [
    ['lock_timeout', run.lockTimeoutMs],
    ['statement_timeout', run.statementTimeoutMs],
  ];
  for (const [name, ms] of settings) {
    if (ms !== undefined) await client.query('SELECT set_config($1, $2, false)', [name, `${ms}ms`]);
  }
}

async function findHolder(client: Client, lockId: string): Promise<SessionInfo | undefined> {
  // Only for the message: never let the diagnosis hide the real outcome.
  return advisoryLockHolder(client, lockId).catch(() => undefined);
}
