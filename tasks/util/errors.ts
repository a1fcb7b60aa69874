/**
 * The one error class the tasks throw. Its message carries a hint line naming what to run next, so gulp-cli
 * (which prints `toString()` for errors with a boolean `showStack`) shows both without a stack trace.
 */
export class TaskError extends Error {
  /** One line: what to do next. */
  readonly hint?: string;
  /** Read by gulp-cli: print `toString()` rather than the stack. Set DEBUG=pg-migrate-tasks for stacks. */
  readonly showStack: boolean;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    const hint = options.hint === undefined ? undefined : visible(options.hint);
    super(hint ? `${visible(message)}\n  hint: ${hint}` : visible(message), { cause: options.cause });
    this.name = 'TaskError';
    this.hint = hint;
    this.showStack = (process.env.DEBUG ?? '').includes('pg-migrate-tasks');
  }

  override toString(): string {
    return this.showStack ? (this.stack ?? this.message) : this.message;
  }
}

/**
 * `text` with its control characters written out (`\x00`, `\x1b`), newlines and tabs kept: a NUL or an escape
 * sequence from a file name or a migration's SQL must not reach the terminal raw (a cut line, a recoloured screen).
 * @example visible('a\u0000b') // 'a\\x00b'
 */
export function visible(text: string): string {
  return (
    text
      .replace(/\r\n/g, '\n')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`)
  );
}

/** The message of anything thrown, for wrapping into a TaskError. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
