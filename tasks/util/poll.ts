/** Time source for polling loops, injectable so tests need no real waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface PollOptions {
  timeoutMs: number;
  /** First pause between attempts; grows by half each time up to `maxIntervalMs`. Default 20 ms. */
  intervalMs?: number;
  /** Default 250 ms. */
  maxIntervalMs?: number;
  clock?: Clock;
  /** Called after each failed attempt that will be retried, with the time spent so far. */
  onRetry?: (error: unknown, elapsedMs: number) => void;
}

export type PollResult<T> = { ok: true; value: T; attempts: number } | { ok: false; lastError: unknown; attempts: number };

/**
 * Calls `attempt` until it resolves, it throws an error `isFatal` accepts, or the time is up. Never sleeps longer
 * than the time left; `attempt` is given the time left, so that it can bound itself by it too.
 * @example await poll(() => client.query('SELECT 1'), { timeoutMs: 30_000 })
 */
export async function poll<T>(
  attempt: (leftMs: number) => Promise<T>,
  { timeoutMs, intervalMs = 20, maxIntervalMs = 250, clock = systemClock, onRetry }: PollOptions,
  isFatal: (error: unknown) => boolean = () => false,
): Promise<PollResult<T>> {
  const deadline = clock.now() + timeoutMs;
  let interval = intervalMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      return { ok: true, value: await attempt(Math.max(0, deadline - clock.now())), attempts };
    } catch (error) {
      const left = deadline - clock.now();
      if (isFatal(error) || left <= 0) return { ok: false, lastError: error, attempts };
      onRetry?.(error, timeoutMs - left);
      await clock.sleep(Math.min(interval, left));
      interval = Math.min(Math.ceil(interval * 1.5), maxIntervalMs);
    }
  }
}
