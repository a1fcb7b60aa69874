import { redactError, type TaskContext } from './context';
import { describeFlags, type FlagName } from '../settings/flags';

/** How long a failing task waits for a signal that may have caused the failure to be handled. */
const SIGNAL_GRACE_MS = 25;

/** A gulp task function with the metadata `gulp --tasks` prints. */
export interface DescribedTask {
  (): Promise<void>;
  displayName: string;
  description: string;
  flags?: Record<string, string>;
}

export interface TaskDefinition {
  name: string;
  description: string;
  flags?: readonly FlagName[];
}

/**
 * Turns an async function into a named gulp task whose errors never show a password.
 * @example defineTask(ctx, { name: 'waitDb', description: 'Wait for the database' }, async () => { … })
 */
export function defineTask(ctx: TaskContext, { name, description, flags }: TaskDefinition, run: () => Promise<void>): DescribedTask {
  const task = async () => {
    try {
      await run();
      // Ended by the signal's cleanup (the watcher closed): the re-raised signal ends the process, not "Finished".
      if (ctx.shutdown) await new Promise<never>(() => undefined);
    } catch (error) {
      // Interrupted (Ctrl-C): this failure is a consequence (the server went away, initdb was stopped). Let the
      // cleanup finish and the re-raised signal end the process, rather than gulp printing a misleading error and
      // exiting before the server is stopped. A signal that arrived with the failure is handled first.
      await new Promise((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS));
      if (ctx.shutdown) {
        await ctx.shutdown;
        await new Promise<never>(() => undefined);
      }
      throw redactError(ctx, error);
    }
  };
  return Object.assign(task, {
    displayName: name,
    description,
    ...(flags && flags.length > 0 ? { flags: describeFlags(flags) } : {}),
  });
}

/**
 * Names and documents a composed task (a gulp series) for `gulp --tasks`.
 * @example export const migrateLocal = describeTask(series(…), { name: 'migrate:local', description: '…', flags: ['count'] })
 */
export function describeTask<T extends object>(task: T, { name, description, flags }: TaskDefinition): T {
  return Object.assign(task, {
    displayName: name,
    description,
    ...(flags && flags.length > 0 ? { flags: describeFlags(flags) } : {}),
  });
}
