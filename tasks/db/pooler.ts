import type { Client } from 'pg';
import { messageOf, TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { redactUrl } from '../util/redact';
import { clientConfig } from './pg-client';

/** The database is reached through a pooler in transaction (or statement) mode: a session lock would not hold. */
export class TransactionPoolerError extends TaskError {}

/**
 * Who answers `SELECT pg_backend_pid()` in turn after the session's first answer (A: the run's session, B: the probe):
 * A, A, B, B rounds: a dozen one-row queries at most. The check stops at the first sign of pooling.
 */
const TURNS = ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a', 'a', 'b', 'b'] as const;
/**
 * How long the probe may take to connect, and each of its queries to get a server. Through a busy pool the probe waits
 * its turn (PgBouncer's query_wait_timeout); when it gets nothing within this bound, the check cannot tell the pooling
 * mode, and the run is refused: going on could mean two runs applying one migration in transaction mode.
 */
export const PROBE_WAIT_MS = 10_000;

/** The pooling mode could not be checked (the probe failed or got no server in time): refused like transaction mode. */
export class PoolerCheckError extends TransactionPoolerError {}

/**
 * Refuses `session` when a transaction-pooling pooler serves it (PgBouncer's `pool_mode = transaction` or `statement`,
 * and the like; a {@link TransactionPoolerError}), and returns its server backend pid (the one to cancel on Ctrl-C).
 * There each statement may run on another server backend, so a session advisory lock (the migration lock) and `SET`
 * (the run's timeouts) do not hold, and two runs could both "hold" the lock and apply a migration twice. Run it before
 * anything else on the session (a `SET` would already reach other clients' backends).
 *
 * First, one query: PostgreSQL tells a client its backend's pid when it connects (the client's `processID`); when
 * `pg_backend_pid()` says the same, nothing stands between them, and the check ends (no second connection). A pooler
 * hands out keys of its own: then the session and a probe (a second, short-lived connection) ask for
 * `pg_backend_pid()` in turns (A, A, B, B, …). Through a pool in session mode each keeps its backend, and the two
 * differ; one session seeing two backends, or both seeing the same one, means statements are pooled. When it cannot
 * tell (the probe cannot connect, or gets no server within `probeWaitMs`), it refuses too (a {@link PoolerCheckError}).
 * @example const pid = await withClient(url, (client) => assertSessionPooling(client, url, logger));
 */
export async function assertSessionPooling(session: Client, url: string, logger: Logger, probeWaitMs = PROBE_WAIT_MS): Promise<number> {
  const started = performance.now();
  const askSession = async () => Number((await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
  // One round trip (through a busy pool each one waits for a server): the backend, and what answers.
  const { rows } = await session.query<{ pid: number; version: string }>('SELECT pg_backend_pid() AS pid, version() AS version');
  const first = Number(rows[0]!.pid);
  if ((session as unknown as { processID?: number }).processID === first) return first;
  // PGlite answers every connection from its one backend, one at a time: keys of its own, and not a pooler.
  if (/\bPGlite\b/.test(rows[0]?.version ?? '')) return first;

  const seen = { a: new Set<number>([first]), b: new Set<number>() };
  const pooled = () => seen.a.size > 1 || seen.b.size > 1 || [...seen.b].some((pid) => seen.a.has(pid));
  let probeFailure: unknown;
  const { Client: PgClient } = await import('pg');
  const probe = new PgClient({ ...clientConfig(url, probeWaitMs), query_timeout: probeWaitMs });
  probe.on('error', () => {
    // A probe that goes away only ends the check; its pending query rejects anyway.
  });
  try {
    await probe.connect();
    for (const turn of TURNS) {
      if (pooled()) break;
      if (turn === 'a') seen.a.add(await askSession());
      else seen.b.add(Number((await probe.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
    }
  } catch (error) {
    // The session's own failures are the run's: askSession throws them through `session`, not here.
    probeFailure = error ?? new Error('the connection failed');
    // Without a probe, the session alone may still show a second backend.
    seen.a.add(await askSession());
  } finally {
    // Not awaited: its goodbye costs the run nothing.
    void probe.end().catch(() => undefined);
  }
  if (pooled()) throw transactionPoolerError(url);
  if (probeFailure !== undefined) throw poolerCheckError(url, probeFailure, probeWaitMs);
  const ms = Math.round(performance.now() - started);
  logger.debug?.(`Behind a pooler in session mode: each session keeps its server backend (checked in ${ms} ms)`);
  return first;
}

const DIRECT_HINT = "connect directly to PostgreSQL for migrations (a DATABASE_URL with the server's own host and port, e.g. a separate one for migrations)";

function transactionPoolerError(url: string): TransactionPoolerError {
  return new TransactionPoolerError(
    `the database at ${redactUrl(url)} is behind a pooler in transaction-pooling mode (the server backend changed between statements of one session): ` +
      'session advisory locks and SET do not hold there, so two runs could apply the same migration twice; nothing was run',
    { hint: `${DIRECT_HINT}, or use a pool in session mode (PgBouncer: pool_mode = session)` },
  );
}

function poolerCheckError(url: string, failure: unknown, waitMs: number): PoolerCheckError {
  return new PoolerCheckError(
    `the database at ${redactUrl(url)} is behind a connection pooler (it hands out connection ids of its own), and its pooling mode could not be checked: ` +
      `a second connection, which tells session from transaction pooling, failed or got no server within ${Math.round(waitMs / 1000)} s (${messageOf(failure)}). ` +
      'In transaction mode two runs could apply the same migration twice, so nothing was run',
    {
      hint: `${DIRECT_HINT}; through a session pool, leave the check a second server connection (PgBouncer: pool_size and max_client_conn above what the application holds) and run the command again`,
    },
  );
}
