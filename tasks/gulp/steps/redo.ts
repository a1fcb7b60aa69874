import { parseDatabaseUrl, type Config } from '../../settings/config';
import { requireConfig, type TaskContext } from '../context';
import { classifyConnectionError } from '../../db/connection-errors';
import { defineTask, type DescribedTask } from '../define-task';
import { TaskError, messageOf } from '../../util/errors';
import { withClient } from '../../db/pg-client';
import { migrationUrl } from '../../engine/migration-role';
import { runMigrations } from '../../engine/run-migrations';
import { installSignalHandlers } from '../signals';

export interface RedoOptions {
  /** How many to redo when --count is not given. Default: 1. */
  count?: number;
}

/**
 * Rolls back the last N applied migrations (default 1) and applies them again: the "re-run the latest migration"
 * step after editing it. Two runner calls, so two transactions: when the re-apply fails, the rollback stays committed
 * and the error says which migrations are now not applied and what to run.
 */
export function createRedoTask(ctx: TaskContext, { count: defaultCount = 1 }: RedoOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    {
      name: 'redo',
      description: 'Roll back the last N applied migrations (default 1) and apply them again',
      flags: ['count', 'migrationsDir', 'singleTransaction'],
    },
    async () => {
      const config = requireConfig(ctx);
      rejectUnsupportedFlags(config);
      const count = config.count ?? defaultCount;
      const url = migrationUrl(ctx, config);
      installSignalHandlers(ctx);
      const started = performance.now();

      const applied = await readLedger(url, config);
      if (applied.length === 0) {
        ctx.logger.info('Nothing to redo: no migration is applied');
        return;
      }
      const targets = applied.slice(-count);
      if (Number.isFinite(count) && count > applied.length) {
        ctx.logger.info(`Only ${plural(applied.length, 'migration is', 'migrations are')} applied: redoing ${applied.length === 1 ? 'it' : 'them'}`);
      }

      const run = (direction: 'up' | 'down', n: number) => {
        // jiti keeps loaded migrations in Node's module cache: drop them, so a file edited since (the point of redo)
        // is read again when the same process (gulp watch, tests) ran migrations before.
        return runMigrations({ config, url, direction, count: n, logger: ctx.logger, cleanups: ctx.cleanups });
      };
      let rolledBack: string[];
      try {
        // The runner returns them in the order it rolled them back, newest first.
        rolledBack = (await run('down', targets.length)).map((migration) => migration.name).reverse();
      } catch (error) {
        throw await explainRedoFailure(error, { url, config, targets, step: 'down' });
      }
      if (rolledBack.length === 0) {
        ctx.logger.info('Nothing to redo: no migration is applied');
        return;
      }
      try {
        await run('up', rolledBack.length);
      } catch (error) {
        throw await explainRedoFailure(error, { url, config, targets: rolledBack, step: 'up' });
      }
      ctx.logger.info(`Redid ${plural(rolledBack.length, 'migration', 'migrations')} in ${Math.round(performance.now() - started)} ms`);
    },
  );
}

function rejectUnsupportedFlags(config: Config): void {
  if (config.dryRun) {
    throw new TaskError('migrate:redo has no --dry-run: it would roll back and re-apply for real', {
      hint: 'run `gulp migrate --dry-run` to see the SQL of pending migrations, or run migrate:redo without --dry-run',
    });
  }
  if (config.direction) {
    throw new TaskError(`migrate:redo takes no --direction (it rolls back, then applies again; got --direction ${config.direction})`, {
      hint: 'run `gulp migrate:redo --count N`, or `gulp migrate --direction down|up` for one direction',
    });
  }
}

/** Names in node-pg-migrate's ledger, oldest first (its own order: run_on, id); empty when the table does not exist. */
async function readLedger(url: string, config: Config): Promise<string[]> {
  try {
    return await withClient(url, async (client) => {
      // node-pg-migrate's ledger lives in the public schema unless configured otherwise (these tasks do not).
      const table = `public.${client.escapeIdentifier(config.migrationsTable)}`;
      const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
      if (!rows[0]?.exists) return [];
      const ledger = await client.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY run_on, id`);
      return ledger.rows.map((row) => row.name);
    });
  } catch (error) {
    const failure = classifyConnectionError(error, parseDatabaseUrl(url, []) ?? config.connection);
    if (failure.kind === 'other' && typeof (error as { severity?: unknown }).severity === 'string') {
      throw new TaskError(`could not read the migrations ledger ${config.migrationsTable}: ${messageOf(error)}`, {
        hint: 'check MIGRATIONS_TABLE and that the application role may read it, then run the command again',
        cause: error,
      });
    }
    throw new TaskError(failure.message, { hint: failure.hint, cause: error });
  }
}

interface RedoFailure {
  url: string;
  config: Config;
  /** The migrations this redo rolls back (and re-applies), oldest first. */
  targets: readonly string[];
  step: 'down' | 'up';
}

/**
 * The runner's error, unchanged when the database is as it was before the redo (so running it again is right);
 * otherwise headed by which migrations are now rolled back, with a hint that re-applies them rather than redoing more.
 */
async function explainRedoFailure(error: unknown, { url, config, targets, step }: RedoFailure): Promise<unknown> {
  let applied: string[];
  try {
    applied = await readLedger(url, config);
  } catch (ledgerError) {
    return new TaskError(
      `migrate:redo failed while ${step === 'down' ? 'rolling back' : 'applying again'} ${targets.join(', ')}, and the ledger cannot be read now (${messageOf(ledgerError).split('\n')[0]}); some of them may be rolled back.\n${withoutHint(error)}`,
      { hint: 'once the database answers, run `gulp migrate` to apply whatever is not applied', cause: error },
    );
  }
  const notApplied = targets.filter((name) => !applied.includes(name));
  if (notApplied.length === 0) return error;
  const them = notApplied.length === 1 ? 'it' : 'them';
  const list = `${notApplied.join(', ')} ${notApplied.length === 1 ? 'is' : 'are'}`;
  const headline =
    step === 'up'
      ? `migrate:redo rolled back ${plural(targets.length, 'migration', 'migrations')} but could not apply ${targets.length === 1 ? 'it' : 'them'} again: ${list} not applied now (the rollback was committed before the re-apply started)`
      : `migrate:redo stopped while rolling back: ${list} rolled back and not applied now`;
  // migration-errors' outcome line means "as before the re-apply" here; say that plainly (no-op if worded otherwise).
  const detail = withoutHint(error).replace('the database is as it was before.', 'nothing of the re-apply was kept.');
  return new TaskError(`${headline}\n${detail}`, {
    hint: `fix the cause above, then run \`gulp migrate --count ${notApplied.length}\` to apply ${them} again (not migrate:redo: it would roll back the migrations before ${them})`,
    cause: error,
  });
}

/** A TaskError's message without its hint line (the redo error brings its own), or any error's message. */
function withoutHint(error: unknown): string {
  const message = messageOf(error);
  if (error instanceof TaskError && error.hint) return message.slice(0, message.length - `\n  hint: ${error.hint}`.length);
  return message;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
