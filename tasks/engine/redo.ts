import { readAppliedNames } from '../db/ledger';
import { TaskError, messageOf } from '../util/errors';
import type { Cleanups } from '../util/cleanups';
import type { Logger } from '../util/logger';
import { runMigrations } from './run-migrations';
import type { MigrationSettings } from './types';

export interface RedoOptions {
  settings: MigrationSettings;
  /** The URL to migrate (the application role's, or the superuser's with DB_MIGRATE_AS=superuser). */
  url: string;
  /** How many to redo when --count is not given. Default: 1. */
  count?: number;
  logger: Logger;
  /** The run's cleanups: a signal cancels the running statement on the server. */
  cleanups?: Cleanups;
}

/**
 * Rolls back the last N applied migrations (default 1) and applies them again: the "re-run the latest migration"
 * step after editing it. Two runner calls, so two transactions: when the re-apply fails, the rollback stays committed
 * and the error says which migrations are now not applied and what to run.
 * @example const redone = await redoMigrations({ settings, url: settings.connection.url, logger: console });
 */
export async function redoMigrations({ settings, url, count: defaultCount = 1, logger, cleanups }: RedoOptions): Promise<string[]> {
  rejectUnsupportedFlags(settings);
  const count = settings.run.count ?? defaultCount;
  const started = performance.now();

  const applied = await readLedger(url, settings);
  if (applied.length === 0) {
    logger.info('Nothing to redo: no migration is applied');
    return [];
  }
  const targets = applied.slice(-count);
  if (Number.isFinite(count) && count > applied.length) {
    logger.info(`Only ${plural(applied.length, 'migration is', 'migrations are')} applied: redoing ${applied.length === 1 ? 'it' : 'them'}`);
  }

  const run = (direction: 'up' | 'down', n: number) => {
    // jiti keeps loaded migrations in Node's module cache: drop them, so a file edited since (the point of redo)
    // is read again when the same process (gulp watch, tests) ran migrations before.
    return runMigrations({ settings, url, direction, count: n, logger, cleanups });
  };
  let rolledBack: string[];
  try {
    // The runner returns them in the order it rolled them back, newest first.
    rolledBack = (await run('down', targets.length)).map((migration) => migration.name).reverse();
  } catch (error) {
    throw await explainRedoFailure(error, { url, settings, targets, step: 'down' });
  }
  if (rolledBack.length === 0) {
    logger.info('Nothing to redo: no migration is applied');
    return [];
  }
  try {
    await run('up', rolledBack.length);
  } catch (error) {
    throw await explainRedoFailure(error, { url, settings, targets: rolledBack, step: 'up' });
  }
  logger.info(`Redid ${plural(rolledBack.length, 'migration', 'migrations')} in ${Math.round(performance.now() - started)} ms`);
  return rolledBack;
}

function rejectUnsupportedFlags(settings: MigrationSettings): void {
  if (settings.run.dryRun) {
    throw new TaskError('migrate:redo has no --dry-run: it would roll back and re-apply for real', {
      hint: 'run `gulp migrate --dry-run` to see the SQL of pending migrations, or run migrate:redo without --dry-run',
    });
  }
  if (settings.run.direction) {
    throw new TaskError(`migrate:redo takes no --direction (it rolls back, then applies again; got --direction ${settings.run.direction})`, {
      hint: 'run `gulp migrate:redo --count N`, or `gulp migrate --direction down|up` for one direction',
    });
  }
}

/** Names in node-pg-migrate's ledger, oldest first (its own order: run_on, id); empty when the table does not exist. */
async function readLedger(url: string, settings: MigrationSettings): Promise<string[]> {
  return (await readAppliedNames(url, settings.ledger, settings.connection)) ?? [];
}

interface RedoFailure {
  url: string;
  settings: MigrationSettings;
  /** The migrations this redo rolls back (and re-applies), oldest first. */
  targets: readonly string[];
  step: 'down' | 'up';
}

/**
 * The runner's error, unchanged when the database is as it was before the redo (so running it again is right);
 * otherwise headed by which migrations are now rolled back, with a hint that re-applies them rather than redoing more.
 */
async function explainRedoFailure(error: unknown, { url, settings, targets, step }: RedoFailure): Promise<unknown> {
  let applied: string[];
  try {
    applied = await readLedger(url, settings);
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
