import type { TaskContext } from '../context';
import { defineStep, type Step } from '../step';
import { KeptStateDamagedError, readKeptState, removeKeptState, withKeptStateLock, type KeptDatabaseState } from '../../settings/kept-state';
import { PROVIDERS } from '../../providers/index';
import { findKeptServers } from '../../providers/orphans';
import type { ProviderRuntime } from '../../providers/types';

/**
 * Stops the database a KEEP_DB=1 run (or db:start) left running, and forgets it. The kept servers of the project are
 * also found from their own run records: one the project's record does not name (or names in a damaged record) is
 * stopped too, never left running for good.
 * @example const stopDb = createDbStopTask(ctx);
 */
export function createDbStopTask(ctx: TaskContext): Step<never, never> {
  return defineStep(ctx, { name: 'stopDb', description: 'Stop the database kept by KEEP_DB=1 or db:start' }, () =>
    withKeptStateLock(ctx.cwd, async () => {
      const runtime: ProviderRuntime = { logger: ctx.logger, cleanups: ctx.cleanups, secrets: ctx.secrets };
      const state = await readKeptState(ctx.cwd).catch((error: unknown) => {
        if (!(error instanceof KeptStateDamagedError)) throw error;
        ctx.logger.warn(`${error.message}: looking for the kept server from its own run record`);
        return null;
      });
      let stopped = 0;
      if (state) {
        const database = await PROVIDERS[state.provider].resume?.(state, runtime);
        if (database) {
          const started = performance.now();
          await database.stop();
          stopped += 1;
          ctx.logger.info(`Stopped the kept ${state.provider} database and removed its files in ${Math.round(performance.now() - started)} ms`);
        } else {
          ctx.logger.info(`The kept ${state.provider} database had already stopped; removed its record`);
        }
      }
      // Kept embedded servers of this project that the record does not name (a damaged or overwritten record).
      for (const server of await findKeptServers(ctx.cwd)) {
        const found: KeptDatabaseState = { provider: 'embedded', url: '', superuserUrl: '', pid: server.postmasterPid, tempDir: server.tempDir, startedAt: '' };
        const database = await PROVIDERS.embedded.resume?.(found, runtime);
        if (!database) continue;
        await database.stop();
        stopped += 1;
        ctx.logger.info(`Stopped a kept embedded server of this project found from its run record (PID ${server.postmasterPid}) and removed ${server.tempDir}`);
      }
      if (state === undefined && stopped === 0) ctx.logger.info('No kept database to stop (none is recorded in .pg-migrate-tasks/)');
      if (state !== undefined) await removeKeptState(ctx.cwd);
    }),
  );
}
