/** The four-method logger the tasks write to: gulplog in the gulpfile, a recording logger in tests. */
export interface Logger {
  debug?(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Wraps a logger so that every known secret is replaced by `****` before it is written. */
export function createRedactingLogger(inner: Logger, secrets: ReadonlySet<string>): Logger {
  const wrapped = {} as Logger;
  for (const level of LEVELS) {
    const write = inner[level];
    if (write) wrapped[level] = (message: string) => write.call(inner, redactSecrets(message, secrets));
  }
  return wrapped;
}

/** Replaces each secret (and its URL-encoded form) in `text` with `****`. */
export function redactSecrets(text: string, secrets: Iterable<string>): string {
  let result = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) result = result.split(form).join('****');
  }
  return result;
}
