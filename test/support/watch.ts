import { COMMANDS } from '../../tasks/gulp/commands';
import { runSteps } from '../../tasks/gulp/compose';
import { createContext, type TaskContext } from '../../tasks/gulp/context';
import { stepFactories } from '../../tasks/gulp/step-factories';
import { createWatchTask, type WatchTaskOptions } from '../../tasks/gulp/steps/watch';
import { createRecordingLogger, type RecordingLogger } from './recording-logger';

/** How long to wait for an expected line before failing with everything printed so far (not a timing assertion). */
const WAIT_LIMIT_MS = 30_000;

/** A `gulp watch` run inside the test process, stoppable. */
export interface WatchRun {
  ctx: TaskContext;
  logger: RecordingLogger;
  /** Settles when the task does. */
  done: Promise<void>;
  /** What a user reads: every line but the debug ones, as `level: message`. */
  lines(): string[];
  /**
   * Resolves with the first of lines() (counting from line `from`) that matches; rejects with the output
   * when none does within the limit or the task ends first.
   */
  waitFor(pattern: RegExp, from?: number): Promise<string>;
  /** Stops the watcher (as Ctrl-C would, without the signal) and waits for the task to end. */
  stop(): Promise<void>;
}

/** Starts the watch task for the project in `cwd` with `argv` (after `watch`), as `gulp watch` would. */
export function startWatch({
  cwd,
  argv = [],
  env = {},
  prepare,
  ...options
}: { cwd: string; argv?: string[]; env?: Record<string, string>; prepare?: (ctx: TaskContext) => void } & Omit<
  WatchTaskOptions,
  'signal' | 'handleSignals'
>): WatchRun {
  const logger = createRecordingLogger();
  const ctx = createContext({ logger, env: { NO_COLOR: '1', ...env }, argv: ['watch', ...argv], cwd });
  prepare?.(ctx);
  const controller = new AbortController();
  let ended = false;
  let failure: unknown;
  // The watch command's steps (ensureEnv, and with --apply startDb and waitDb), its own step with the test's options.
  const steps = COMMANDS.watch.steps({
    ...stepFactories(ctx),
    watch: () => createWatchTask(ctx, { ...options, signal: controller.signal, handleSignals: false }),
  });
  const done = runSteps(ctx, { name: 'watch', description: COMMANDS.watch.description, steps });
  done.then(
    () => (ended = true),
    (error: unknown) => {
      ended = true;
      failure = error;
    },
  );
  const lines = () => logger.lines.filter((line) => !line.startsWith('debug:'));
  return {
    ctx,
    logger,
    done,
    lines,
    async waitFor(pattern, from = 0) {
      const started = Date.now();
      for (;;) {
        const line = lines()
          .slice(from)
          .find((candidate) => pattern.test(candidate));
        if (line !== undefined) return line;
        if (ended || Date.now() - started > WAIT_LIMIT_MS) {
          const why = ended ? `the task ended${failure ? ` with ${String(failure)}` : ''}` : `none within ${WAIT_LIMIT_MS} ms`;
          throw new Error(`expected a line matching ${pattern} (${why}); output:\n${lines().join('\n')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}
