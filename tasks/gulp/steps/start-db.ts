import { parseDatabaseUrl, type Config } from '../../settings/config';
import { requireConfig, type TaskContext } from '../context';
import { defineTask, type DescribedTask } from '../define-task';
import { readKeptState, removeKeptState, writeKeptState } from '../../settings/kept-state';
import { chooseProvider } from '../../providers/choose-provider';
import { PROVIDERS, type ProviderRuntime, type StartedDatabase } from '../../providers/index';
import { redactUrl } from '../../util/redact';
import { releaseDatabase } from '../release-database';
import { installSignalHandlers } from '../signals';

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
      description: 'Start a disposable PostgreSQL (DB_PROVIDER: auto, embedded, docker, compose, external, pglite)',
      flags: ['provider'],
    },
    async () => {
      const config = requireConfig(ctx);
      if (ctx.database) return;
      installSignalHandlers(ctx);
      // db:start keeps its database whatever KEEP_DB says; providers read keepDb (fixed port, durable settings).
      const keep = options.keep ?? config.keepDb;
      const providerConfig: Config = { ...config, keepDb: keep };
      const runtime: ProviderRuntime = { logger: ctx.logger, cleanups: ctx.cleanups, secrets: ctx.secrets };

      const kept = await resumeKept(providerConfig, runtime, ctx, options.keep === false);
      if (kept) {
        adopt(ctx, kept, keep);
        ctx.logger.info(`Reusing the kept database: ${kept.description}`);
        warnAboutIgnoredSettings(ctx, config, kept);
        return;
      }

      const { provider, reason } = await chooseProvider(providerConfig);
      ctx.logger.info(`Database provider: ${provider.name} (${reason})`);
      const started = performance.now();
      const database = await provider.start(providerConfig, runtime);
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

/**
 * With KEEP_DB (or db:start): the database an earlier run kept, if it is still running; a stale record is removed.
 * Without: undefined, saying that a kept database exists and is left alone.
 */
async function resumeKept(config: Config, runtime: ProviderRuntime, ctx: TaskContext, forcedThrowAway: boolean): Promise<StartedDatabase | undefined> {
  const state = await readKeptState(config.projectDir);
  if (!state) return undefined;
  if (!config.keepDb) {
    const choice = forcedThrowAway ? '' : ' KEEP_DB=1 uses the kept one.';
    ctx.logger.info(`A kept ${state.provider} database is running (${redactUrl(state.url)}); this run uses a throw-away one.${choice}`);
    return undefined;
  }
  const database = await PROVIDERS[state.provider].resume?.(state, runtime);
  if (!database) {
    ctx.logger.info(`The kept ${state.provider} database recorded in .pg-migrate-tasks/ is gone: starting a new one`);
    await removeKeptState(config.projectDir);
  }
  return database;
}

/** The connection settings given now that the reused database does not have (it keeps those it was started with). */
function warnAboutIgnoredSettings(ctx: TaskContext, config: Config, kept: StartedDatabase): void {
  if (config.connectionSource !== 'DATABASE_URL' && config.connectionSource !== 'DB_* variables') return;
  const actual = parseDatabaseUrl(kept.url, []);
  if (!actual) return;
  const given = config.connection;
  const differing = [
    given.user !== actual.user && 'user',
    given.password !== actual.password && 'password',
    given.database !== actual.database && 'database',
    config.portGiven && given.port !== actual.port && 'port',
  ].filter(Boolean);
  if (differing.length === 0) return;
  ctx.logger.warn(
    `The kept database was started with another ${differing.join(', ')} than the one configured now, and keeps its own: ` +
      'run `gulp db:stop` and start again to recreate it with the current settings',
  );
}
