import type { Direction } from './config';
import type { Logger } from './logger';

/**
 * A logger for node-pg-migrate's runner that turns its chatter into one line per migration with its duration, and
 * keeps its error output (the failing SQL with a caret) for the error message instead of printing it.
 */
export class MigrationProgress {
  /** The migrations the runner said it will run, in order. */
  readonly planned: string[] = [];
  /** The migration whose SQL is running (or failed). */
  current?: string;
  /** node-pg-migrate's description of the last failure: the SQL and a caret under the failing position. */
  failureDetail?: string;
  readonly finished: string[] = [];
  #currentStarted = 0;

  constructor(
    private readonly logger: Logger,
    private readonly direction: Direction,
  ) {}

  /** The object passed as the runner's `logger`. */
  readonly runnerLogger = {
    debug: undefined,
    info: (message: string) => this.#onInfo(message),
    warn: (message: string) => this.#onWarn(message),
    error: (message: string) => {
      this.failureDetail = String(message);
    },
  };

  /** Call when the runner returned: the last migration is done. */
  finish(): void {
    this.#finishCurrent();
  }

  /**
   * Which migration a runner failure belongs to, and how many of this run completed before it. The runner logs a
   * migration's marker after its up/down function built the SQL and before that SQL runs: a database error belongs
   * to the marked migration; any other error (thrown by an up/down function) to the one after it.
   */
  failure(error: unknown): { migration?: string; completedBefore: number } {
    const fromDatabase = typeof (error as { severity?: unknown })?.severity === 'string';
    if (fromDatabase || this.planned.length === 0) return { migration: this.current, completedBefore: this.finished.length };
    const next = this.current ? this.planned.indexOf(this.current) + 1 : 0;
    return { migration: this.planned[next] ?? this.current, completedBefore: next };
  }

  #onInfo(message: string): void {
    const planned = /^> - (.+)$/.exec(message);
    if (planned) this.planned.push(planned[1]!);
    const marker = /^### MIGRATION (.+) \((UP|DOWN)\) ###$/.exec(message);
    if (!marker) {
      this.logger.debug?.(`node-pg-migrate: ${message}`);
      return;
    }
    this.#finishCurrent();
    this.current = marker[1];
    this.#currentStarted = performance.now();
  }

  #onWarn(message: string): void {
    if (message.includes('not wrapped in a transaction') || message.includes('Need to break single transaction')) {
      this.logger.warn(`${this.current ?? 'a migration'} runs outside the transaction (pgm.noTransaction()): a failure after it cannot undo it`);
    } else {
      this.logger.debug?.(`node-pg-migrate: ${message}`);
    }
  }

  #finishCurrent(): void {
    if (!this.current) return;
    const arrow = this.direction === 'up' ? '↑' : '↓';
    this.logger.info(`  ${arrow} ${this.current} (${Math.round(performance.now() - this.#currentStarted)} ms)`);
    this.finished.push(this.current);
    this.current = undefined;
  }
}
