import type { Direction } from '../settings/settings';
import type { Logger } from '../util/logger';

const BATCH_AFTER = 20;
const BATCH_MS = 200;

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
  /**
   * Migrations run outside any transaction (`pgm.noTransaction()`), and how many of their statements completed (known
   * when this run sent them one by one; undefined when node-pg-migrate's runner did).
   */
  readonly outside = new Map<string, { done?: number; of?: number }>();
  /** The migration a failure happened in, when the run knows it for certain (the fast apply path's marker rows). */
  #failedIn?: string;
  #currentStarted = 0;
  /** The plan was given with {@link plan}: the runner's own list (a segment of it) is not added again. */
  #planGiven = false;
  /** Lines of a long run waiting to be printed together (see #print). */
  #unprinted: string[] = [];
  #lastPrinted = performance.now();

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

  /** The migrations a run will apply, in order (when the run is not the runner's, which lists them itself). */
  plan(names: readonly string[]): void {
    this.planned.push(...names);
    this.#planGiven = true;
  }

  /** A migration starts (its SQL is sent, or it is next in a batch): the one a failure now belongs to. */
  start(name: string): void {
    this.#finishCurrent();
    this.current = name;
    this.#currentStarted = performance.now();
  }

  /** The current migration is done, in `ms` (measured on the server for a batch); its line is printed. */
  done(ms?: number): void {
    this.#finishCurrent(ms);
  }

  /** The last migration a runner segment started is done (the runner says when one starts, not when it ends). */
  settle(): void {
    this.#finishCurrent();
  }

  /** A `pgm.noTransaction()` migration: the warning the runner's would give. */
  outsideTransaction(name: string): void {
    this.outside.set(name, {});
    this.logger.warn(`${name} runs outside the transaction (pgm.noTransaction()): a failure after it cannot undo it`);
  }

  /** The run knows which migration failed (whatever the error): {@link failure} names it. */
  failedIn(name: string | undefined): void {
    this.#failedIn = name;
  }

  /** Call when the runner returned: the last migration is done. */
  finish(): void {
    this.#finishCurrent();
    this.flush();
  }

  /** Prints the lines a long run has held back. */
  flush(): void {
    if (this.#unprinted.length > 0) this.logger.info(this.#unprinted.join('\n'));
    this.#unprinted = [];
    this.#lastPrinted = performance.now();
  }

  /**
   * Which migration a runner failure belongs to, and how many of this run completed before it. The runner logs a
   * migration's marker after its up/down function built the SQL and before that SQL runs: a database error belongs
   * to the marked migration; any other error (thrown by an up/down function) to the one after it.
   */
  failure(error: unknown): { migration?: string; completedBefore: number } {
    this.flush();
    if (this.#failedIn !== undefined) return { migration: this.#failedIn, completedBefore: this.finished.length };
    const fromDatabase = typeof (error as { severity?: unknown })?.severity === 'string';
    if (fromDatabase || this.planned.length === 0) return { migration: this.current, completedBefore: this.finished.length };
    // After a batch or a runner segment, the ones finished come first: the next planned one is the one that threw.
    const next = this.current ? this.planned.indexOf(this.current) + 1 : this.finished.length;
    return { migration: this.planned[next] ?? this.current, completedBefore: next };
  }

  #onInfo(message: string): void {
    const planned = /^> - (.+)$/.exec(message);
    if (planned && !this.#planGiven) this.planned.push(planned[1]!);
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
      if (this.current) this.outside.set(this.current, {});
      this.logger.warn(`${this.current ?? 'a migration'} runs outside the transaction (pgm.noTransaction()): a failure after it cannot undo it`);
    } else {
      this.logger.debug?.(`node-pg-migrate: ${message}`);
    }
  }

  /**
   * One line per migration, at once for a short run; a run of more than {@link BATCH_AFTER} migrations prints them
   * every {@link BATCH_MS} ms as one message: a timestamp formatted per line costs more than a trivial migration.
   */
  #print(line: string): void {
    if (this.planned.length <= BATCH_AFTER) {
      this.logger.info(line);
      return;
    }
    this.#unprinted.push(line);
    if (performance.now() - this.#lastPrinted >= BATCH_MS) this.flush();
  }

  #finishCurrent(ms = performance.now() - this.#currentStarted): void {
    if (!this.current) return;
    const arrow = this.direction === 'up' ? '↑' : '↓';
    this.#print(`  ${arrow} ${this.current} (${Math.round(ms)} ms)`);
    this.finished.push(this.current);
    this.current = undefined;
  }
}
