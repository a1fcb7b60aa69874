import { assertBaselineTarget, baselineDatabase } from '../../engine/baseline';
import { fleetDrift } from '../../engine/fleet';
import { detectDrift } from '../../engine/live-schema';
import { isFleet } from '../../settings/settings';
import { migrationUrl } from '../../engine/migration-role';
import { EXIT_DRIFT } from '../../engine/status-model';
import { withClient } from '../../db/pg-client';
import { serverIdentity } from '../../providers/os-user';
import { findPgBinaries } from '../../providers/pg-binaries';
import { TaskError } from '../../util/errors';
import { redactUrl } from '../../util/redact';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

/**
 * Before a throw-away database is started to compare with the live one (drift, baseline): refuses DB_PROVIDER=external
 * (it would be the live database itself), reads the live server's version and, unless DB_PG_VERSION says otherwise,
 * picks local binaries of the same major, so both schemas are printed by the same PostgreSQL.
 * @example const live = createLiveServerTask(ctx, 'migrate:drift');
 */
export function createLiveServerTask(ctx: TaskContext, command: string): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'matchLiveServer',
      description: 'Read the live database’s server version; the throw-away database runs the same major when local binaries have it',
      flags: ['provider'],
      requires: { liveDatabase: true, startsDatabase: true, connects: true },
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'matchLiveServer');
      if (settings.provider.name === 'external') {
        throw new TaskError(
          `${command} compares the database at ${redactUrl(settings.connection.url)} with a throw-away one it starts, and DB_PROVIDER=external gives none`,
          {
            hint: `run \`gulp ${command}\` with DB_PROVIDER unset (auto) or embedded/docker; DATABASE_URL names the database to compare`,
          },
        );
      }
      if (command === 'migrate:baseline') assertBaselineTarget(settings.command.to, settings.command.accept);
      // A fleet from a file has no one live server to match: the throw-away database runs the default binaries.
      if (settings.fleet.targets !== undefined) return;
      const version = await withClient(
        settings.connection.url,
        async (client) => (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v,
      );
      const major = version.split('.')[0]!;
      ctx.logger.info(`Live database: PostgreSQL ${version.split(' ')[0]} at ${redactUrl(settings.connection.url)}`);
      if (settings.provider.pgVersion !== undefined || !['auto', 'embedded'].includes(settings.provider.name)) return;
      const identity = await serverIdentity(settings.provider.osUser);
      const matching = await findPgBinaries(settings.provider.pgBin, identity, major).catch(() => undefined);
      if (matching) settings.provider.pgVersion = major;
      else
        ctx.logger.warn(
          `No local PostgreSQL ${major} binaries: the throw-away database runs another version, whose way of printing definitions may show as differences`,
        );
    },
  );
}

/**
 * `migrate:drift`'s own step: the live schema compared with the throw-away database migrated to the live ledger's
 * position; each difference printed; exit status 4 on drift.
 * @example const drift = createDriftTask(ctx);
 */
export function createDriftTask(ctx: TaskContext): Step<'settings' | 'database', never> {
  return defineStep(
    ctx,
    {
      name: 'compareSchemas',
      description: 'Compare the live schema with the migrations it has applied (exit 4 on drift)',
      flags: ['migrationsDir', 'ignorePattern', 'targets', 'targetsQuery', 'concurrency'],
      requires: { migrates: true, liveDatabase: true, startsDatabase: true, connects: true },
      needs: ['settings', 'database'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'compareSchemas');
      const throwAwayUrl = migrationUrl(need(ctx, 'database', 'compareSchemas'), settings.connection, settings.projectDir);
      if (isFleet(settings.fleet)) {
        ctx.setExitCode(await fleetDrift({ settings, throwAwayUrl, logger: ctx.logger, secrets: ctx.secrets }));
        return;
      }
      const changes = await detectDrift({ settings, liveUrl: settings.connection.url, throwAwayUrl, logger: ctx.logger });
      if (changes.length > 0) ctx.setExitCode(EXIT_DRIFT);
    },
  );
}

/**
 * `migrate:baseline`'s own step: records the migrations up to --to as applied when the live schema is what they produce.
 * @example const baseline = createBaselineTask(ctx);
 */
export function createBaselineTask(ctx: TaskContext): Step<'settings' | 'database', never> {
  return defineStep(
    ctx,
    {
      name: 'recordBaseline',
      description: 'Record the migrations the live schema already has, without running them',
      flags: ['to', 'force', 'accept', 'migrationsDir', 'ignorePattern'],
      requires: { migrates: true, liveDatabase: true, startsDatabase: true, connects: true },
      needs: ['settings', 'database'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'recordBaseline');
      const throwAwayUrl = migrationUrl(need(ctx, 'database', 'recordBaseline'), settings.connection, settings.projectDir);
      const { to, force, accept } = settings.command;
      await baselineDatabase({ settings, liveUrl: settings.connection.url, throwAwayUrl, to, force, accept, logger: ctx.logger });
    },
  );
}
