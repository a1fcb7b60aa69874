import type { RawFlags } from '../../settings/flags';
import { parseDatabaseUrl } from '../../settings/settings';
import { need, type TaskContext } from '../context';
import { classifyConnectionError } from '../../db/connection-errors';
import { TaskError } from '../../util/errors';
import { withClient } from '../../db/pg-client';
import { readKeptStateSync } from '../../settings/kept-state';
import { defineStep, type Step } from '../step';
import { poll, type Clock } from '../../util/poll';
import { redactUrl } from '../../util/redact';

/** One connection attempt's bounds: never more than the time left, and not so short that a slow start cannot answer. */
const MAX_ATTEMPT_MS = 5_000;
const MIN_ATTEMPT_MS = 250;

/** Say once that we are waiting, when the database has not answered this long. */
const ANNOUNCE_AFTER_MS = 1_000;

export interface WaitDbOptions {
  /** For tests: a clock that does not really wait. */
  clock?: Clock;
  /** Wait only when this holds for the flags given (watch: with --apply). Default: always. */
  when?: (flags: RawFlags) => boolean;
}

/**
 * Polls `SELECT 1` as the application role until it answers or DB_WAIT_TIMEOUT (--timeout) runs out; fails at once
 * on errors waiting cannot fix (wrong password, missing database, unknown host), saying what to do.
 */
export function createWaitDbTask(ctx: TaskContext, { clock, when }: WaitDbOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'waitDb',
      description: 'Wait until the database accepts the application role (DB_WAIT_TIMEOUT)',
      flags: ['timeout'],
      requires: { connects: true },
      needs: ['settings'],
      when,
    },
    async () => {
      const { connection, projectDir, fleet } = need(ctx, 'settings', 'waitDb');
      // A fleet from a targets file has no control database: each target is connected to (and reported) on its own.
      if (fleet.targets !== undefined && !ctx.handoff.database) return;
      const url = ctx.handoff.database?.url ?? connection.url;
      const target = parseDatabaseUrl(url, []) ?? connection;
      const started = clock?.now() ?? performance.now();
      let announced = false;
      const announce = (error: unknown, elapsedMs: number) => {
        if (announced || elapsedMs < ANNOUNCE_AFTER_MS) return;
        announced = true;
        const seconds = connection.waitTimeoutMs / 1000;
        ctx.logger.info(`Waiting for the database (${classifyConnectionError(error, target).message} so far; giving up after ${seconds} s)`);
      };
      const result = await poll(
        // Each attempt is bounded by the time left too: --timeout 6 gives up after 6 s, not after a 5 s attempt begun at 5 s.
        (leftMs) => withClient(url, (client) => client.query('SELECT 1'), Math.max(MIN_ATTEMPT_MS, Math.min(MAX_ATTEMPT_MS, leftMs))),
        { timeoutMs: connection.waitTimeoutMs, clock, onRetry: announce },
        (error) => !classifyConnectionError(error, target).transient,
      );
      if (result.ok) {
        const elapsed = Math.round((clock?.now() ?? performance.now()) - started);
        ctx.logger.info(`Database ready: ${target.user}@${target.host}:${target.port}/${target.database} (${elapsed} ms)`);
        return;
      }
      const failure = classifyConnectionError(result.lastError, target);
      const message = failure.transient ? `gave up waiting for the database after ${connection.waitTimeoutMs / 1000} s: ${failure.message}` : failure.message;
      throw new TaskError(message, { hint: failure.hint + keptDatabaseNote(projectDir, url), cause: result.lastError });
    },
  );
}

/** When a kept database runs at another URL than the one that failed, the likely fix is to use it. */
function keptDatabaseNote(projectDir: string, failedUrl: string): string {
  const kept = readKeptStateSync(projectDir);
  if (!kept || kept.url === failedUrl) return '';
  return `. A kept database is running at ${redactUrl(kept.url)}: to use it, remove DATABASE_URL and DB_* from the environment and .env (they override it)`;
}
