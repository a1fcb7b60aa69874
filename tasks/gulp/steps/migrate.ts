import { existsSync } from 'node:fs';
import { migrateFleet } from '../../engine/fleet';
import { migrate } from '../../engine/migrate';
import { migrationUrl } from '../../engine/migration-role';
import { writeSchemaFile } from '../../engine/schema';
import { isFleet, type Direction } from '../../settings/settings';
import { need, type TaskContext } from '../context';
import { installSignalHandlers } from '../signals';
import { defineStep, type Step } from '../step';

export interface MigrateStepOptions {
  /** Default direction when --direction is not given. Default: 'up'. */
  direction?: Direction;
  /** Default count when --count is not given. Default: all for up, 1 for down. */
  count?: number;
  /** The step's name in gulp's log and `gulp --tasks`. Default: 'migrate' (the `migrate` command names it runMigrations). */
  name?: string;
  /**
   * After migrating a throw-away database all the way up, rewrite the project's schema file (SCHEMA_FILE, default
   * schema.sql) when it exists (migrate:local). Default false.
   */
  refreshSchema?: boolean;
  /** Take the fleet flags (--targets, --targets-query, --schemas, --concurrency, --canary, …): the `migrate` command. Default false. */
  fleet?: boolean;
}

/** The flags of a fleet (migrate and migrate:status). */
export const FLEET_FLAGS = ['targets', 'targetsQuery', 'schemas', 'concurrency', 'canary', 'continueOnError', 'report'] as const;

/** On a terminal, one progress line on stderr, rewritten in place (`''` clears it); nothing elsewhere. */
export function progressLine(): ((line: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (line) => void process.stderr.write(`\r\x1b[K${line}`);
}

/**
 * Runs node-pg-migrate's runner against the started database (or the configured one): one line per migration with
 * its duration, a summary, and on failure one error that names the migration and what to do.
 * @example const migrateStep = createMigrateTask(ctx);
 */
export function createMigrateTask(
  ctx: TaskContext,
  { direction, count, name = 'migrate', refreshSchema = false, fleet = false }: MigrateStepOptions = {},
): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name,
      description: 'Run pending migrations (or roll back) with node-pg-migrate, in one transaction',
      flags: [
        'direction',
        'count',
        'migrationsDir',
        'ignorePattern',
        'singleTransaction',
        'dryRun',
        'lint',
        'lockMode',
        'lockTimeout',
        'statementTimeout',
        'timeout',
        ...(fleet ? FLEET_FLAGS : []),
      ],
      requires: { migrates: true, applies: true, connects: true },
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', name);
      const url = migrationUrl(ctx.handoff.database, settings.connection, settings.projectDir);
      if (!settings.run.dryRun) installSignalHandlers(ctx);
      if (isFleet(settings.fleet)) {
        await migrateFleet({
          settings,
          direction: settings.run.direction ?? direction ?? 'up',
          count: settings.run.count ?? count ?? ((settings.run.direction ?? direction) === 'down' ? 1 : Number.POSITIVE_INFINITY),
          logger: ctx.logger,
          cleanups: ctx.cleanups,
          preflightLint: ctx.handoff.preflightLint,
          secrets: ctx.secrets,
          progress: progressLine(),
        });
        return;
      }
      // A database this run started (throw-away, or kept locally) has nobody else connected: lock-safety findings warn.
      const local = ctx.handoff.database !== undefined && ctx.handoff.database.provider !== 'external';
      const result = await migrate({
        settings,
        url,
        direction,
        count,
        logger: ctx.logger,
        cleanups: ctx.cleanups,
        preflightLint: ctx.handoff.preflightLint,
        local,
      }).catch(async (error: unknown) => {
        // The connection to a server this run started was lost: its own log says why (a full disk, a crash), and the
        // teardown is about to delete it.
        if (isLostConnection(error) && ctx.handoff.database?.logTail) {
          // The client notices first; the server writes why a moment later (a backend's exit is logged by the postmaster).
          await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
          const tail = await ctx.handoff.database.logTail();
          if (tail) ctx.logger.error(`The server's log, its last lines (it is removed with the server):\n${tail.replace(/^/gm, '  ')}`);
        }
        throw error;
      });
      // A throw-away database migrated all the way up is the schema the migrations produce: keep the committed schema
      // file (when the project has one) current.
      const throwAway = local && ctx.handoff.keepDatabase !== true;
      const allUp = result.direction === 'up' && !result.dryRun && (settings.run.count ?? count ?? Number.POSITIVE_INFINITY) === Number.POSITIVE_INFINITY;
      if (refreshSchema && throwAway && allUp && existsSync(settings.source.schemaFile)) {
        await writeSchemaFile({ url: ctx.handoff.database!.url, settings, logger: ctx.logger });
      }
    },
  );
}

/** How long to let the server write its side of a lost connection before its log is read. */
const LOG_SETTLE_MS = 500;

/** A failure that means the server went away under the run (as explainMigrationFailure words it). */
function isLostConnection(error: unknown): boolean {
  return /lost the database connection|Connection terminated|server closed the connection|ECONNRESET/i.test(
    error instanceof Error ? error.message : String(error),
  );
}
