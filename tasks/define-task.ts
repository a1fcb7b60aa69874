import { redactError, type TaskContext } from './context';
import { describeFlags, type FlagName } from './flags';

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
    } catch (error) {
      // Interrupted (Ctrl-C): the failure is a consequence. Let the cleanup finish and the signal end the process,
      // rather than gulp printing this error and exiting before the server is stopped.
      if (ctx.shutdown) await ctx.shutdown;
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
