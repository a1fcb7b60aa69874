import { watchMigrations, type LintFiles, type WatchFunction } from '../../engine/watch';
import { shouldUseColor } from '../../lint/format';
import { need, type TaskContext } from '../context';
import { loadGulp } from '../gulp-instance';
import { installSignalHandlers } from '../signals';
import { defineStep, type Step } from '../step';

export { formatWatchResult, type LintFiles, type MigrationWatcher, type WatchFunction } from '../../engine/watch';

export interface WatchTaskOptions {
  /** Starts watching: the `watch` of the gulp the commands were registered with (createMigrationTasks passes it). */
  watch?: WatchFunction;
  /** Stops watching when aborted: the step resolves once the file in hand is done. Default: only Ctrl-C stops it. */
  signal?: AbortSignal;
  /**
   * Install the SIGINT/SIGTERM/SIGHUP handlers (they run ctx.cleanups, which close the watcher, then end the process by
   * the signal). Default true; a test that stops the step through `signal` passes false.
   */
  handleSignals?: boolean;
  /** The linter. Default: `lintMigrationFiles` of tasks/lint, loaded when the step starts. */
  lint?: LintFiles;
}

/**
 * `gulp watch`'s own step: lints each migration as it is saved; with --apply (startDb and waitDb before it then keep a
 * local database) it applies each new migration that passes lint. Ends when the watcher is closed (Ctrl-C, `signal`).
 * @example const watch = createWatchTask(ctx, { watch: gulp.watch });
 */
export function createWatchTask(ctx: TaskContext, { watch, signal, handleSignals = true, lint }: WatchTaskOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'watchMigrations',
      description: 'Lint each migration as it is saved; --apply also applies new ones to a kept local database (Ctrl-C stops)',
      flags: ['apply', 'lockMode', 'lockTimeout', 'statementTimeout', 'migrationsDir', 'ignorePattern'],
      requires: (flags) => (flags.apply ? { migrates: true, startsDatabase: true, connects: true } : { migrates: true, connects: false }),
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'watchMigrations');
      if (handleSignals) installSignalHandlers(ctx);
      await watchMigrations({
        settings,
        url: ctx.handoff.database?.url ?? settings.connection.url,
        logger: ctx.logger,
        watch: watch ?? gulpWatch(ctx),
        cleanups: ctx.cleanups,
        signal,
        lint,
        color: shouldUseColor({ env: ctx.env, argv: ctx.argv }),
      });
    },
  );
}

/** The watch of the project's gulp, found from the project folder when none was passed in. */
function gulpWatch(ctx: TaskContext): WatchFunction {
  return (ctx.gulp ?? loadGulp(ctx.cwd)).watch as unknown as WatchFunction;
}
