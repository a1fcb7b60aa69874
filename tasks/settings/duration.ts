/** Units PostgreSQL accepts for time settings (lock_timeout, statement_timeout), in milliseconds. */
const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** PostgreSQL's ceiling for lock_timeout and statement_timeout: INT_MAX milliseconds (~24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Parses a duration written as PostgreSQL accepts it for a time setting: `5s`, `500ms`, `2min`, `1.5 h`, or a plain
 * number of milliseconds. `0` means "no timeout", as in PostgreSQL. Returns the milliseconds, or a problem: "Expected
 * `--lock-timeout` to be …, got …".
 * @example parseDuration('--lock-timeout', '5s') // { ok: true, ms: 5000 }
 */
export function parseDuration(name: string, text: string): { ok: true; ms: number } | { ok: false; problem: string } {
  const problem = `${name} must be a duration such as 5s, 500ms, 2min or a number of milliseconds (units: ${Object.keys(UNITS).join(', ')}), got "${text}"`;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim());
  if (!match) return { ok: false, problem };
  const [, number, unit = ''] = match as unknown as [string, string, string];
  const factor = unit === '' ? 1 : UNITS[unit];
  if (factor === undefined) return { ok: false, problem };
  const ms = Math.round(Number(number) * factor);
  if (Number(number) > 0 && ms === 0) return { ok: false, problem: `${name} must be at least 1ms (or 0 for no timeout), got "${text}"` };
  if (ms > MAX_TIMEOUT_MS) return { ok: false, problem: `${name} must be at most ${MAX_TIMEOUT_MS}ms (~24 days; 0 means no timeout), got "${text}"` };
  return { ok: true, ms };
}

/**
 * A duration for messages, in the largest unit that keeps it whole-ish: `500 ms`, `5 s`, `1.5 s`, `2 min`.
 * @example formatDuration(120_000) // '2 min'
 */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Number((ms / 1_000).toFixed(1))} s`;
  if (ms < 3_600_000 || ms % 3_600_000 !== 0) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}
