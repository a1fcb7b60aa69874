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
    super(options.hint ? `${message}\n  hint: ${options.hint}` : message, { cause: options.cause });
    this.name = 'TaskError';
    this.hint = options.hint;
    this.showStack = (process.env.DEBUG ?? '').includes('pg-migrate-tasks');
  }

  override toString(): string {
    return this.showStack ? (this.stack ?? this.message) : this.message;
  }
}

/** The message of anything thrown, for wrapping into a TaskError. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
