import type { Client } from 'pg';
import { formatDuration } from '../settings/duration';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { redactUrl } from '../util/redact';
import { clientConfig } from './pg-client';

/** The server answered nothing, not even a new connection, for the run's bound: the run was ended. */
export class ServerUnresponsiveError extends TaskError {}

export interface ServerWatchOptions {
  /** The server's URL, for the probe's connections (and, without its password, the messages). */
  url: string;
  logger: Logger;
  /** How long the server may answer nothing (not even a new connection) before the run is ended: DB_WAIT_TIMEOUT. */
  unresponsiveMs: number;
  /** What is running now, for the messages (the migration's name). */
  current: () => string | undefined;
  /** How often to look while a statement runs. Default 10 s. */
  everyMs?: number;
}

/** What {@link watchServer} returns: stop it when the statement is done; `failure` says whether it ended the run. */
export interface ServerWatch {
  stop(): void;
  /** Set once the watch gave up on the server and closed the session: the error to report instead of the lost connection. */
  readonly failure: ServerUnresponsiveError | undefined;
}

/**
 * Keeps an eye on the server while a long statement runs on `session`: a frozen server (a paused VM, hung storage, a
 * half-open connection) would otherwise keep the run waiting forever, since the session's own statement cannot tell a
 * slow migration from a server that stopped. Every `everyMs` it says what is still running, and opens a short-lived
 * probe connection (`SELECT 1`): a server that answers that is alive, however long the migration takes. When none has
 * answered for `unresponsiveMs`, the session's socket is closed, so the pending statement fails at once (the server,
 * should it wake up, rolls the transaction back when it sees the connection gone), and `failure` explains it.
 * @example const watch = watchServer(client, { url, logger, unresponsiveMs: 30_000, current: () => progress.current });
 */
export function watchServer(session: Client, { url, logger, unresponsiveMs, current, everyMs = 10_000 }: ServerWatchOptions): ServerWatch {
  const started = performance.now();
  let lastAnswer = started;
  let failure: ServerUnresponsiveError | undefined;
  let probing = false;
  let stopped = false;
  /** "Still running" is said at 10 s, 20 s, 40 s, … and then every 5 minutes: a long index build is not a flood of lines. */
  let nextNotice = everyMs;
  const probeMs = Math.max(1_000, Math.min(everyMs, unresponsiveMs));

  const look = async () => {
    if (probing || stopped) return;
    probing = true;
    try {
      const answered = await probe(url, probeMs);
      if (stopped) return;
      const now = performance.now();
      const running = current();
      const what = running ? `migration ${running}` : 'the run';
      if (answered) {
        lastAnswer = now;
        if (now - started >= nextNotice) {
          logger.info(`Still running ${what} (${formatDuration(Math.round((now - started) / 1_000) * 1_000)}); the server answers`);
          nextNotice = Math.min(nextNotice * 2, nextNotice + MAX_NOTICE_GAP_MS);
        }
        return;
      }
      const silentMs = now - lastAnswer;
      if (silentMs < unresponsiveMs) {
        logger.warn(
          `Still waiting for the server during ${what} (${formatDuration(Math.round((now - started) / 1_000) * 1_000)}): it has not answered a new connection for ${formatDuration(Math.round(silentMs / 1_000) * 1_000)}`,
        );
        return;
      }
      failure = new ServerUnresponsiveError(
        `the server at ${redactUrl(url)} stopped answering during ${what}: nothing, not even a new connection, for ${formatDuration(Math.round(silentMs / 1_000) * 1_000)}; the run was ended`,
        {
          hint:
            'check the server (a paused VM, full or hung storage, a network that dropped the connection). Its open transaction is rolled back when it notices the connection gone: ' +
            '`gulp migrate:status` then shows what is applied. DB_WAIT_TIMEOUT (--timeout) sets how long a server may not answer',
        },
      );
      stop();
      // The pending statement fails now ("Connection terminated"), and the run reports `failure` instead.
      (session as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    } finally {
      probing = false;
    }
  };
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  function stop() {
    stopped = true;
    clearInterval(timer);
  }
  return {
    stop,
    get failure() {
      return failure;
    },
  };
}

const MAX_NOTICE_GAP_MS = 5 * 60_000;

/** Whether the server answers a new connection's `SELECT 1` within `ms`. */
async function probe(url: string, ms: number): Promise<boolean> {
  const { Client: PgClient } = await import('pg');
  const client = new PgClient({ ...clientConfig(url, ms), query_timeout: ms });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    // Not awaited: a frozen server never says goodbye.
    void client.end().catch(() => undefined);
  }
}
