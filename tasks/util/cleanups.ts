/** Something to undo: stop a server, remove a temp dir. */
export type Cleanup = () => Promise<void> | void;

/**
 * The resources a gulp process has started, released last-in first-out. Whatever starts a resource registers its
 * cleanup at that moment; `runAll` is what signal handlers and teardown call, and is safe to call more than once.
 */
export class Cleanups {
  readonly #entries = new Map<symbol, { name: string; cleanup: Cleanup }>();

  /** Registers a cleanup; returns a function that unregisters it without running it. */
  add(name: string, cleanup: Cleanup): () => void {
    const key = Symbol(name);
    this.#entries.set(key, { name, cleanup });
    return () => this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Runs every registered cleanup, newest first, even when one fails; rethrows the first failure. */
  async runAll(): Promise<void> {
    const entries = [...this.#entries.entries()].reverse();
    this.#entries.clear();
    let firstFailure: unknown;
    for (const [, { cleanup }] of entries) {
      try {
        await cleanup();
      } catch (error) {
        firstFailure ??= error;
      }
    }
    if (firstFailure !== undefined) throw firstFailure;
  }
}
