import { cloneDatabases, databaseEnv, type DatabaseClones } from '../../engine/clone-databases';
import { runShellCommand } from '../../engine/run-command';
import { TaskError } from '../../util/errors';
import { redactUrl } from '../../util/redact';
import { need, type TaskContext } from '../context';
import { installSignalHandlers } from '../signals';
import { defineStep, type Step } from '../step';

export interface CloneDatabasesStepOptions {
  /** Copies to make when --clones is not given. Default 0: none, unless --clones says so. */
  count?: number;
}

export interface RunCommandStepOptions {
  /** The command to run when --run is not given (then --run is optional). Default: none, --run is required. */
  command?: string;
  /** The step's name in gulp's log and `gulp --tasks`. Default: 'runCommand'. */
  name?: string;
}

/**
 * Makes N copies of the migrated database startDb started (`CREATE DATABASE … TEMPLATE`, as the provider's superuser,
 * owned by the application role) for parallel test workers; runCommand hands them over as DATABASE_URL_1 … _N. On a
 * kept or external database they are dropped at teardown. Nothing to do without --clones.
 * @example const clone = createCloneDatabasesTask(ctx); // steps: […, s.migrate(), clone, s.runCommand()]
 */
export function createCloneDatabasesTask(ctx: TaskContext, { count }: CloneDatabasesStepOptions = {}): Step<'settings' | 'database', 'clones'> {
  return defineStep(
    ctx,
    {
      name: 'cloneDatabases',
      description: 'Copy the migrated database N times (--clones N) for parallel test workers: DATABASE_URL_1 … DATABASE_URL_N',
      flags: ['clones'],
      requires: { connects: true },
      needs: ['settings', 'database'],
      gives: ['clones'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'cloneDatabases');
      const database = need(ctx, 'database', 'cloneDatabases');
      const wanted = settings.command.clones || count || 0;
      if (wanted === 0) return;
      if (database.provider === 'pglite') {
        throw new TaskError('--clones needs a PostgreSQL server: PGlite serves one database in one session, whatever a URL names', {
          hint: 'use --provider embedded or docker (or DB_PROVIDER), or run without --clones',
        });
      }
      installSignalHandlers(ctx);
      const template = new URL(database.url).pathname.slice(1);
      const clones: DatabaseClones = { template: decodeURIComponent(template), adminUrl: database.superuserUrl ?? database.url, clones: [] };
      ctx.handoff.clones = clones;
      // Ctrl-C while copying: let the copies in flight finish (their names are then known), so that teardown drops them.
      const abort = new AbortController();
      const started = performance.now();
      // A throw-away server (fsync off) copies files fastest, up to 16 at once: FILE_COPY's checkpoints are then shared
      // (8 copies: 1.3 s at once, 1.75 s four at a time). A kept or external server keeps its default strategy, 4 at once.
      const throwAway = database.provider !== 'external' && ctx.handoff.keepDatabase !== true;
      const cloning = cloneDatabases({
        url: database.url,
        adminUrl: clones.adminUrl,
        count: wanted,
        into: clones,
        signal: abort.signal,
        fileCopy: throwAway,
        concurrency: throwAway ? 16 : 4,
      });
      const unregister = ctx.cleanups.add('cloneDatabases', async () => {
        abort.abort();
        await cloning.catch(() => undefined);
      });
      try {
        await cloning;
      } finally {
        unregister();
      }
      // Interrupted: the signal's cleanup goes on to the database (and drops the copies made on a kept one).
      if (ctx.shutdown) return;
      const ms = Math.round(performance.now() - started);
      const names = clones.clones.map((clone) => clone.name);
      const made = names.length;
      const range = made === 1 ? 'DATABASE_URL_1' : `DATABASE_URL_1 … DATABASE_URL_${made}`;
      ctx.logger.info(
        `Made ${made === 1 ? '1 copy' : `${made} copies`} of ${clones.template} for parallel test workers in ${ms} ms: ${range} (${names[0]}${made > 1 ? ` … ${names.at(-1)}` : ''})`,
      );
    },
  );
}

/**
 * Runs the --run command (through `sh -c`, in the project folder, stdio inherited) with DATABASE_URL and DB_HOST, DB_PORT,
 * DB_NAME, DB_USER, DB_PASSWORD pointing at the migrated database (and DATABASE_URL_1 … _N at its copies); the
 * command's exit status becomes gulp's (128 + n when signal n ended it). Ctrl-C stops its whole process group first
 * (SIGINT, SIGKILL after 5 s), then the database.
 * @example const run = createRunCommandTask(ctx, { command: 'npm test' });
 */
export function createRunCommandTask(ctx: TaskContext, { command: defaultCommand, name = 'runCommand' }: RunCommandStepOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name,
      description: 'Run the --run command with DATABASE_URL (and DB_*, DATABASE_URL_1 … _N) pointing at the migrated database; exit with its status',
      flags: ['run'],
      requires: { connects: true, runsCommand: defaultCommand === undefined },
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', name);
      const command = settings.command.run ?? defaultCommand;
      if (!command) throw new TaskError('--run COMMAND is required: the command to run against the migrated database, e.g. --run "npm test"');
      const url = ctx.handoff.database?.url ?? settings.connection.url;
      const clones = ctx.handoff.clones?.clones ?? [];
      installSignalHandlers(ctx);
      const copies = clones.length > 0 ? `, DATABASE_URL_1 … DATABASE_URL_${clones.length}` : '';
      ctx.logger.info(`Running \`${command}\` with DATABASE_URL=${redactUrl(url)} (and DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD${copies})`);
      const result = await runShellCommand({
        command,
        cwd: settings.projectDir,
        env: databaseEnv(ctx.env, url, clones),
        cleanups: ctx.cleanups,
        logger: ctx.logger,
      });
      // Stopped by Ctrl-C: the signal's cleanup goes on to stop the database, and the signal ends gulp.
      if (result.stopped) return;
      const took = formatSeconds(result.ms);
      if (result.code === 0) {
        ctx.logger.info(`\`${command}\` passed (exit status 0) in ${took}`);
        return;
      }
      const how = result.signal ? `was ended by ${result.signal} (exit status ${result.code})` : `failed with exit status ${result.code}`;
      ctx.logger.error(`\`${command}\` ${how} after ${took}: gulp exits with ${result.code}`);
      ctx.setExitCode(result.code);
    },
  );
}

function formatSeconds(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}
