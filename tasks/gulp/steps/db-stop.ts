import type { TaskContext } from '../context';
import { defineStep, type Step } from '../step';
import { readKeptState, removeKeptState } from '../../settings/kept-state';
import { PROVIDERS } from '../../providers/index';

/**
 * Stops the database a KEEP_DB=1 run (or db:start) left running, and forgets it.
 * @example const stopDb = createDbStopTask(ctx);
 */
export function createDbStopTask(ctx: TaskContext): Step<never, never> {
  return defineStep(ctx, { name: 'stopDb', description: 'Stop the database kept by KEEP_DB=1 or db:start' }, async () => {
    const state = await readKeptState(ctx.cwd);
    if (!state) {
      ctx.logger.info('No kept database to stop (none is recorded in .pg-migrate-tasks/)');
      return;
    }
    const runtime = { logger: ctx.logger, cleanups: ctx.cleanups, secrets: ctx.secrets };
    const database = await PROVIDERS[state.provider].resume?.(state, runtime);
    if (database) {
      const started = performance.now();
      await database.stop();
      ctx.logger.info(`Stopped the kept ${state.provider} database and removed its files in ${Math.round(performance.now() - started)} ms`);
    } else {
      ctx.logger.info(`The kept ${state.provider} database had already stopped; removed its record`);
    }
    await removeKeptState(ctx.cwd);
  });
}
