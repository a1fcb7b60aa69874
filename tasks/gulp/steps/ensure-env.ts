import path from 'node:path';
import { resolveConfig } from '../../settings/config';
import type { TaskContext } from '../context';
import { defineTask, type DescribedTask } from '../define-task';
import { checkEnvFile } from '../../settings/env-file';
import { TaskError } from '../../util/errors';
import { parseFlags, type FlagName } from '../../settings/flags';
import { startPreflightLint } from '../../lint/preflight';
import { assertMigrateAsPossible } from '../../engine/migration-role';
import { redactUrl } from '../../util/redact';

export interface EnsureEnvOptions {
  /**
   * True when a later task starts its own database (migrate:local, db:start): missing DB_* variables then fall back
   * to defaults. False (default) requires DATABASE_URL or all DB_* variables.
   */
  startsDatabase?: boolean;
  /** True when a later task reads the migrations: a missing migrations folder is reported before a database is started. */
  migrates?: boolean;
  /**
   * True when a later task applies or rolls back migrations (migrate, migrate:local, redo, verify): DB_MIGRATE_AS is
   * checked up front, and when the task takes --no-lint, migrate's pre-flight lint starts now, to run while the
   * database starts.
   */
  applies?: boolean;
  /** False when no later task connects (migrate:create): no connection settings are required. Default true. */
  connects?: boolean;
  /** The flags the composed task takes (as in its `gulp --tasks` entry): any other of ours is rejected. Default: all. */
  flags?: readonly FlagName[];
}

/**
 * Loads `.env` (real environment variables win), resolves flags and the connection, and stores the validated
 * Config in the context. Every problem is reported at once.
 */
export function createEnsureEnvTask(ctx: TaskContext, { startsDatabase = false, migrates = false, applies = false, connects = true, flags }: EnsureEnvOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    { name: 'ensureEnv', description: 'Load .env and validate the connection settings and flags', flags: ['dotenv'] },
    async () => {
      assertEnvFileReadable(ctx);
      const config = resolveConfig({ env: ctx.env, argv: ctx.argv, cwd: ctx.cwd, startsDatabase, checkMigrationsDir: migrates, connects, allowedFlags: flags });
      ctx.secrets.add(config.connection.password);
      if (applies) assertMigrateAsPossible(config, startsDatabase);
      ctx.config = config;
      if (applies && config.lint && !config.dryRun && (flags ?? ['lint']).includes('lint')) ctx.preflightLint = startPreflightLint(config);
      const source = config.envFile ? ` (loaded ${config.envFile})` : '';
      ctx.logger.debug?.(`Connection from ${config.connectionSource}${source}: ${redactUrl(config.url)}`);
      if (config.passwordGenerated && connects) {
        ctx.logger.info('DB_PASSWORD is not set: generated a random one for the database this run starts');
      }
    },
  );
}

/**
 * A .env line dotenv cannot read is skipped without a word, and an unquoted `#` cuts a value short: the run would then
 * use other settings than the ones written (a missing DATABASE_URL, a truncated password). Refused before anything runs.
 */
function assertEnvFileReadable(ctx: TaskContext): void {
  const file = path.resolve(ctx.cwd, parseFlags(ctx.argv).dotenv ?? '.env');
  const problems = checkEnvFile(file, ctx.cwd);
  if (problems.length === 0) return;
  const hint = `fix ${path.relative(ctx.cwd, file) || file}: one NAME=value per line (comments start with #; quote a value that contains # or spaces, see .env.example); then run the command again`;
  if (problems.length === 1) throw new TaskError(problems[0]!, { hint });
  throw new TaskError(`${problems.length} problems in the environment file:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, { hint });
}
