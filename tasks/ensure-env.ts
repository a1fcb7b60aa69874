import { resolveConfig } from './config';
import type { TaskContext } from './context';
import { defineTask, type DescribedTask } from './define-task';
import type { FlagName } from './flags';
import { startPreflightLint } from './lint/preflight';
import { redactUrl } from './redact';

export interface EnsureEnvOptions {
  /**
   * True when a later task starts its own database (migrate:local, db:start): missing DB_* variables then fall back
   * to defaults. False (default) requires DATABASE_URL or all DB_* variables.
   */
  startsDatabase?: boolean;
  /** True when a later task migrates: a missing migrations folder is reported before a database is started. */
  migrates?: boolean;
  /** False when no later task connects (migrate:create): no connection settings are required. Default true. */
  connects?: boolean;
  /** The flags the composed task takes (as in its `gulp --tasks` entry): any other of ours is rejected. Default: all. */
  flags?: readonly FlagName[];
}

/**
 * Loads `.env` (real environment variables win), resolves flags and the connection, and stores the validated
 * Config in the context. Every problem is reported at once.
 */
export function createEnsureEnvTask(ctx: TaskContext, { startsDatabase = false, migrates = false, connects = true, flags }: EnsureEnvOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    { name: 'ensureEnv', description: 'Load .env and validate the connection settings and flags', flags: ['dotenv'] },
    async () => {
      const config = resolveConfig({ env: ctx.env, argv: ctx.argv, cwd: ctx.cwd, startsDatabase, checkMigrationsDir: migrates, connects, allowedFlags: flags });
      ctx.secrets.add(config.connection.password);
      ctx.config = config;
      if (migrates && config.lint && !config.dryRun) ctx.preflightLint = startPreflightLint(config);
      const source = config.envFile ? ` (loaded ${config.envFile})` : '';
      ctx.logger.debug?.(`Connection from ${config.connectionSource}${source}: ${redactUrl(config.url)}`);
      if (config.passwordGenerated && connects) {
        ctx.logger.info('DB_PASSWORD is not set: generated a random one for this disposable database');
      }
    },
  );
}
