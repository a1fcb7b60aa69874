import type { TaskContext } from './context';
import { messageOf } from '../util/errors';

const installed = new Set<TaskContext>();
/** Ctrl-C, kill, and a closed terminal. */
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let outputWatched = false;
let signalsWatched = false;
let outputBlocking = false;

/**
 * Makes stdout and stderr blocking when they are pipes (CI logs, `gulp … | tee`), once per process. Node writes to a
 * full pipe asynchronously and keeps the rest in memory; gulp-cli ends a failed command with process.exit(), which
 * drops that rest, so a slow reader lost the last lines, the error and its hint among them. Files and terminals are
 * written synchronously already.
 */
export function blockingOutput(): void {
  if (outputBlocking) return;
  outputBlocking = true;
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
    if (!stream.isTTY && typeof handle?.setBlocking === 'function') handle.setBlocking(true);
  }
}

/**
 * On SIGINT/SIGTERM/SIGHUP, runs the cleanups of every context that asked for this once (stopping what the run
 * started), then re-raises the signal so the process ends with the signal's exit status. A second signal during
 * cleanup is ignored with a note. One listener per signal for the process, however many contexts (tests make many).
 */
export function installSignalHandlers(ctx: TaskContext): void {
  installed.add(ctx);
  if (signalsWatched) return;
  signalsWatched = true;
  let cleaning = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const contexts = [...installed];
    if (cleaning) {
      for (const each of contexts) each.logger.warn(`Received ${signal} again: still stopping the database, one moment`);
      return;
    }
    cleaning = true;
    const stopping = contexts.map((each) => {
      each.logger.warn(`Received ${signal}: stopping what this run started`);
      each.shutdown = each.cleanups.runAll().catch((error) => each.logger.error(`Cleanup after ${signal} failed: ${messageOf(error)}`));
      return each.shutdown;
    });
    void Promise.all(stopping).finally(() => {
      // Every listener goes, not only ours: a library's handler (signal-exit, loaded with testcontainers) would
      // otherwise swallow the re-raised signal, and the process would limp out with gulp's "did not complete".
      for (const name of SIGNALS) process.removeAllListeners(name);
      process.kill(process.pid, signal);
    });
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  watchOutput();
}

/**
 * A closed stdout or stderr (`gulp migrate:local | head`): every write would now fail with EPIPE, which Node would
 * throw as an unhandled error in the middle of the teardown. Instead, stop what every context started, silently
 * (nothing can be printed), and end by SIGPIPE (exit status 141), as a command in a pipeline does. One listener per
 * stream for the process, whatever the number of contexts.
 */
function watchOutput(): void {
  if (outputWatched) return;
  outputWatched = true;
  let closed = false;
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (closed) return;
    closed = true;
    const stopping = [...installed].map((ctx) => (ctx.shutdown ??= ctx.cleanups.runAll().catch(() => undefined)));
    void Promise.all(stopping).finally(() => {
      for (const name of SIGNALS) process.removeAllListeners(name);
      // Node ignores SIGPIPE; once a listener is added and removed again, the default action (ending) is back.
      process.on('SIGPIPE', () => undefined).removeAllListeners('SIGPIPE');
      process.kill(process.pid, 'SIGPIPE');
    });
  };
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
}
