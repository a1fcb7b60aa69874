import path from 'node:path';
import { assertLintClean } from '../../engine/lint-policy';
import { migrationUrl } from '../../engine/migration-role';
import { readBaseline } from '../../lint/baseline';
import { loadMigrationFiles } from '../../sources/render-sql';
import { assertThrowAwayDatabase, verifyMigrations, verifyRefusal } from '../../engine/verify';
import { readVerifyExceptions } from '../../sources/verify-exceptions';
import { redactUrl } from '../../util/redact';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

/**
 * Checks on the throw-away database startDb started that every migration's `down` reverses its `up`: applies them one
 * at a time with a schema snapshot after each, rolls them back one at a time comparing each result with the snapshot
 * before that migration's up, then applies them again comparing with the first pass. Refuses any other database.
 * @example const verify = createVerifyTask(ctx);
 */
export function createVerifyTask(ctx: TaskContext): Step<'settings' | 'database', never> {
  return defineStep(
    ctx,
    {
      name: 'verify',
      description: 'Apply each migration, roll each back, apply each again, comparing schema snapshots (throw-away database only)',
      flags: ['since', 'migrationsDir', 'ignorePattern', 'lint'],
      requires: { migrates: true, applies: true, startsDatabase: true, connects: true },
      needs: ['settings', 'database'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'verify');
      // Read directly: a missing database is explained by the refusal below, which says how to get one.
      const database = ctx.handoff.database;
      assertThrowAwayDatabase(database, ctx.handoff.keepDatabase === true);
      const url = migrationUrl(database, settings.connection, settings.projectDir);
      if (ctx.handoff.preflightLint) {
        // The pre-flight migrate runs (what cannot run was refused before the server started): lock-safety findings
        // of new migrations are warnings here, the database being a throw-away one.
        const { source } = settings;
        const willApply = async () =>
          (await loadMigrationFiles({ dir: source.migrationsDir, projectDir: source.projectDir, ignorePattern: source.ignorePattern })).map(
            (file) => file.name,
          );
        await assertLintClean(source, ctx.logger, { willApply, linted: ctx.handoff.preflightLint, local: true, baseline: readBaseline(settings.projectDir) });
      }
      const started = performance.now();
      const exceptions = readVerifyExceptions(settings.projectDir);
      const verified = await verifyMigrations({ settings, url, logger: ctx.logger, since: settings.command.since, exceptions });
      const ms = Math.round(performance.now() - started);
      if (verified.length === 0 && settings.command.since) {
        ctx.logger.info(`No migrations after --since ${settings.command.since}: nothing to verify (the history before it applied cleanly)`);
      } else if (verified.length === 0) {
        ctx.logger.info(`No migrations in ${path.relative(settings.projectDir, settings.source.migrationsDir) || '.'}/: nothing to verify`);
      } else if (verified.length === 1) {
        ctx.logger.info(`Verified 1 migration: its down reverses its up, and re-applying gives the same schema (${ms} ms)`);
      } else {
        ctx.logger.info(`Verified ${verified.length} migrations: each down reverses its up, and re-applying gives the same schema (${ms} ms)`);
      }
    },
  );
}

/**
 * Runs before startDb in `gulp migrate:verify`: refuses DB_PROVIDER=external before anything connects, and says that
 * KEEP_DB=1 does not apply (verify always uses a database of its own and removes it).
 * @example const guard = createVerifyGuardTask(ctx);
 */
export function createVerifyGuardTask(ctx: TaskContext): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'verifyGuard',
      description: 'Refuse an external database: migrate:verify drops everything the migrations create',
      flags: ['provider'],
      needs: ['settings'],
    },
    async () => {
      const { provider, connection } = need(ctx, 'settings', 'verifyGuard');
      if (provider.name === 'external') {
        const setting = provider.chosenBy === '--provider' ? '--provider external' : 'DB_PROVIDER=external';
        throw verifyRefusal(`the external database at ${redactUrl(connection.url)}`, setting);
      }
      if (provider.keepDb) ctx.logger.info('KEEP_DB=1 does not apply to migrate:verify: it always uses a throw-away database and removes it');
    },
  );
}
