import type { Config } from './config';
import { requireConfig, type TaskContext } from './context';
import { defineTask, type DescribedTask } from './define-task';
import { readKeptState, removeKeptState, writeKeptState } from './kept-state';
import { chooseProvider } from './providers/choose-provider';
import { PROVIDERS, type ProviderRuntime, type StartedDatabase } from './providers/index';
import { redactUrl } from './redact';
import { releaseDatabase } from './release-database';
import { installSignalHandlers } from './signals';

export interface StartDbOptions {
  /** Leave the database running after the run, as KEEP_DB=1 does (db:start sets it). Default: KEEP_DB. */
  keep?: boolean;
}

/**
 * Gets a database for the run: reuses the kept one when KEEP_DB=1 finds it alive, otherwise starts one through the
 * chosen provider. Registers its teardown (and SIGINT/SIGTERM handlers) the moment it exists.
 */
export function createStartDbTask(ctx: TaskContext, options: StartDbOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    {
      name: 'startDb',
      description: 'Start a disposable PostgreSQL (DB_PROVIDER: auto, embedded, docker, compose, external)',
      flags: ['provider'],
    },
    async () => {
      const config = requireConfig(ctx);
      if (ctx.database) return;
      installSignalHandlers(ctx);
      const keep = options.keep ?? config.keepDb;
      const runtime: ProviderRuntime = { logger: ctx.logger, cleanups: ctx.cleanups, secrets: ctx.secrets };

      const kept = keep ? await resumeKept(config, runtime, ctx) : undefined;
      if (kept) {
        adopt(ctx, kept, keep);
        ctx.logger.info(`Reusing the kept database: ${kept.description}`);
        return;
      }

      const { provider, reason } = await chooseProvider(config);
      ctx.logger.info(`Database provider: ${provider.name} (${reason})`);
      const started = performance.now();
      const database = await provider.start(config, runtime);
      adopt(ctx, database, keep);
      if (keep && database.keptState) await writeKeptState(config.projectDir, database.keptState);
      ctx.logger.info(`Started ${database.description} in ${Math.round(performance.now() - started)} ms`);
      ctx.logger.debug?.(`Application URL: ${redactUrl(database.url)}`);
    },
  );
}

function adopt(ctx: TaskContext, database: StartedDatabase, keep: boolean): void {
  ctx.database = database;
  ctx.keepDatabase = keep;
  for (const url of [database.url, database.superuserUrl]) {
    const password = url ? new URL(url).password : '';
    if (password) ctx.secrets.add(decodeURIComponent(password));
  }
  ctx.cleanups.add('teardown', () => releaseDatabase(ctx));
}

/** The database an earlier KEEP_DB=1 run left, if it is still running; a stale record is removed. */
async function resumeKept(config: Config, runtime: ProviderRuntime, ctx: TaskContext): Promise<StartedDatabase | undefined> {
  const state = await readKeptState(config.projectDir);
  if (!state) return undefined;
  const database = await PROVIDERS[state.provider].resume?.(state, runtime);
  if (!database) {
    ctx.logger.info(`The kept ${state.provider} database recorded in .pg-migrate-tasks/ is gone: starting a new one`);
    await removeKeptState(config.projectDir);
  }
  return database;
}
