/** A gulp task function: returns a promise, or calls `done`. */
export type GulpTask = (done: (error?: unknown) => void) => unknown;

/**
 * Runs `body` (e.g. a gulp series), then `teardown` whatever happened: gulp's series stops at the first failure,
 * so a teardown placed last in it would be skipped. When both fail, the body's error is the one reported.
 * @example withTeardown(series(ensureEnv, startDb, waitDb, migrate), teardown)
 */
export function withTeardown(body: GulpTask, teardown: GulpTask): () => Promise<void> {
  return async function withTeardownTask() {
    let bodyFailed = false;
    try {
      await runTask(body);
    } catch (error) {
      bodyFailed = true;
      throw error;
    } finally {
      await runTask(teardown).catch((error: unknown) => {
        if (!bodyFailed) throw error;
      });
    }
  };
}

/** Runs a gulp task function that either returns a promise or calls its callback. */
export function runTask(task: GulpTask): Promise<void> {
  return new Promise((resolve, reject) => {
    const result = task((error?: unknown) => (error ? reject(error) : resolve()));
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(() => resolve(), reject);
    }
  });
}
