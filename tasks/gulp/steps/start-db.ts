import { assertRunnable } from '../../engine/lint-policy';
import { chooseProvider } from '../../providers/choose-provider';
import { PROVIDERS, type DatabaseSettings, type ProviderRuntime, type StartedDatabase } from '../../providers/index';
import { readKeptState, removeKeptState, withKeptStateLock, writeKeptState } from '../../settings/kept-state';
import type { RawFlags } from '../../settings/flags';
import { parseDatabaseUrl, type Settings } from '../../settings/settings';
import { redactUrl } from '../../util/redact';
import { need, type TaskContext } from '../context';
import { releaseDatabase } from '../release-database';
import { installSignalHandlers } from '../signals';
import { defineStep, type Step } from '../step';

export interface StartDbOptions {
  /** Leave the database running after the run, as KEEP_DB=1 does (db:start sets it). Default: KEEP_DB. */
  keep?: boolean;
  /** Start one only when this holds for the flags given (watch: with --apply). Default: always. */
  when?: (flags: RawFlags) => boolean;
}

/**
 * Gets a database for the run: reuses the kept one when KEEP_DB=1 finds it alive, otherwise starts one through the
 * chosen provider. Registers its teardown (and SIGINT/SIGTERM handlers) the moment it exists. Does nothing when an
 * earlier step (or the caller) already put a database in the context.
 * @example const startDb = createStartDbTask(ctx, { keep: true });
 */
export function createStartDbTask(ctx: TaskContext, options: StartDbOptions = {}): Step<'settings', 'database' | 'keepDatabase'> {
  return defineStep(
    ctx,
    {
      name: 'startDb',
      description: 'Start a disposable PostgreSQL (DB_PROVIDER: auto, embedded, docker, compose, external, pglite)',
      flags: ['provider'],
      requires: { startsDatabase: true, connects: true },
      needs: ['settings'],
      gives: ['database', 'keepDatabase'],
      when: options.when,
    },
    async () => {
      const settings = need(ctx, 'settings', 'startDb');
      if (ctx.handoff.database) return;
      // A migration that cannot load or run is refused before a server is started for a run that cannot happen.
      if (ctx.handoff.preflightLint) await assertRunnable(ctx.handoff.preflightLint, settings.source);
      installSignalHandlers(ctx);
      // db:start keeps its database whatever KEEP_DB says; providers read keepDb (fixed port, durable settings).
      const keep = options.keep ?? settings.provider.keepDb;
      const database: DatabaseSettings = { ...settings, provider: { ...settings.provider, keepDb: keep } };
      const runtime: ProviderRuntime = { logger: ctx.logger, cleanups: ctx.cleanups, secrets: ctx.secrets };

      // Kept: "read the record, start, write the record" one run at a time (two db:start at once start one server).
      const startOrReuse = async () => {
        const kept = await resumeKept(database, runtime, ctx, options.keep === false);
        if (kept) {
          adopt(ctx, kept, keep);
          ctx.logger.info(`Reusing the kept database: ${kept.description}`);
          warnAboutIgnoredSettings(ctx, settings, kept);
          return;
        }

        const { provider, reason } = await chooseProvider(database);
        ctx.logger.info(`Database provider: ${provider.name} (${reason})`);
        const started = performance.now();
        const startedDatabase = await provider.start(database, runtime);
        adopt(ctx, startedDatabase, keep);
        if (keep && startedDatabase.keptState) await writeKeptState(settings.projectDir, startedDatabase.keptState);
        ctx.logger.info(`Started ${startedDatabase.description} in ${Math.round(performance.now() - started)} ms`);
        ctx.logger.debug?.(`Application URL: ${redactUrl(startedDatabase.url)}`);
      };
      await (keep ? withKeptStateLock(settings.projectDir, startOrReuse) : startOrReuse());
    },
  );
}

function adopt(ctx: TaskContext, database: StartedDatabase, keep: boolean): void {
  ctx.handoff.database = database;
  ctx.handoff.keepDatabase = keep;
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
async function resumeKept(
  settings: DatabaseSettings,
  runtime: ProviderRuntime,
  ctx: TaskContext,
  forcedThrowAway: boolean,
): Promise<StartedDatabase | undefined> {
  const { projectDir, keepDb } = settings.provider;
  // A damaged record fails a run that would keep a database (it could start a second one); a throw-away run goes on.
  const state = keepDb ? await readKeptState(projectDir) : await readKeptState(projectDir).catch(() => undefined);
  if (!state) return undefined;
  if (!keepDb) {
    const choice = forcedThrowAway ? '' : ' KEEP_DB=1 uses the kept one.';
    ctx.logger.info(`A kept ${state.provider} database is running (${redactUrl(state.url)}); this run uses a throw-away one.${choice}`);
    return undefined;
  }
  const database = await PROVIDERS[state.provider].resume?.(state, runtime);
  if (!database) {
    ctx.logger.info(`The kept ${state.provider} database recorded in .pg-migrate-tasks/ is gone: starting a new one`);
    await removeKeptState(projectDir);
  }
  return database;
}

/** The connection settings given now that the reused database does not have (it keeps those it was started with). */
function warnAboutIgnoredSettings(ctx: TaskContext, settings: Settings, kept: StartedDatabase): void {
  const given = settings.connection;
  if (given.source !== 'DATABASE_URL' && given.source !== 'DB_* variables') return;
  const actual = parseDatabaseUrl(kept.url, []);
  if (!actual) return;
  const differing = [
    given.user !== actual.user && 'user',
    given.password !== actual.password && 'password',
    given.database !== actual.database && 'database',
    given.portGiven && given.port !== actual.port && 'port',
  ].filter(Boolean);
  if (differing.length === 0) return;
  ctx.logger.warn(
    `The kept database was started with another ${differing.join(', ')} than the one configured now, and keeps its own: ` +
      'run `gulp db:stop` and start again to recreate it with the current settings',
  );
}
