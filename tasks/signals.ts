import type { TaskContext } from './context';
import { messageOf } from './errors';

const installed = new WeakSet<TaskContext>();
/** Ctrl-C, kill, and a closed terminal. */
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * On SIGINT/SIGTERM/SIGHUP, runs the context's cleanups once (stopping what this run started), then re-raises the signal
 * so the process ends with the signal's exit status. A second signal during cleanup is ignored with a note.
 */
export function installSignalHandlers(ctx: TaskContext): void {
  if (installed.has(ctx)) return;
  installed.add(ctx);
  let cleaning = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (cleaning) {
      ctx.logger.warn(`Received ${signal} again: still stopping the database, one moment`);
      return;
    }
    cleaning = true;
    ctx.logger.warn(`Received ${signal}: stopping what this run started`);
    ctx.shutdown = ctx.cleanups
      .runAll()
      .catch((error) => ctx.logger.error(`Cleanup after ${signal} failed: ${messageOf(error)}`))
      .finally(() => {
        // Every listener goes, not only ours: a library's handler (signal-exit, loaded with testcontainers) would
        // otherwise swallow the re-raised signal, and the process would limp out with gulp's "did not complete".
        for (const name of SIGNALS) process.removeAllListeners(name);
        process.kill(process.pid, signal);
      });
  };
  for (const name of SIGNALS) process.on(name, onSignal);
}
