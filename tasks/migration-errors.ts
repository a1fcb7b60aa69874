import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Config, Direction } from './config';
import { classifyConnectionError } from './db-errors';
import { TaskError, messageOf } from './errors';

export interface FailureContext {
  config: Config;
  direction: Direction;
  /** The migration that was running, if the runner got that far. */
  migration?: string;
  /** node-pg-migrate's own description (failing SQL with a caret). */
  detail?: string;
  /** How many migrations the run had finished before the failure. */
  finishedCount: number;
}

const DUPLICATE_OBJECT_CODES = new Set(['42P07', '42701', '42710', '42P06', '42723']);
const CONNECTION_CODES = new Set(['ECONNREFUSED', '28P01', '3D000', '28000', 'ENOTFOUND', 'EAI_AGAIN', '57P03', 'ETIMEDOUT']);

/** Turns whatever node-pg-migrate's runner threw into a TaskError that says what happened and what to run next. */
export function explainMigrationFailure(error: unknown, { config, direction, migration, detail, finishedCount }: FailureContext): TaskError {
  const message = messageOf(error);
  const code = (error as { code?: string }).code;
  const folder = path.relative(config.projectDir, config.migrationsDir) || '.';

  if (code && CONNECTION_CODES.has(code)) {
    const failure = classifyConnectionError(error, config.connection);
    return new TaskError(failure.message, { hint: failure.hint, cause: error });
  }
  if (message.includes('Another migration is already running')) {
    return new TaskError('another migration is already running against this database (its advisory lock is held)', {
      hint: 'wait for it to finish and run the command again; if none is running, look for a stuck session in pg_stat_activity',
      cause: error,
    });
  }
  const outOfOrder = /Not run migration (\S+) is preceding already run migration (\S+)/.exec(message);
  if (outOfOrder) {
    const [, pending, applied] = outOfOrder as unknown as [string, string, string];
    // node-pg-migrate compares the ledger and the folder position by position: a deleted applied file shifts every
    // later file, and it then names a file that is not out of order at all.
    if (!migrationFileExists(config.migrationsDir, applied)) {
      return new TaskError(`migration ${applied} is applied, but its file is missing from ${folder}/`, {
        hint: 'restore it from version control (`git log --diff-filter=D --name-only -- ' + `${folder}/\`); \`gulp migrate:status\` lists every missing file`,
        cause: error,
      });
    }
    return new TaskError(`migration ${pending} is older than ${applied}, which is already applied (out of order)`, {
      hint: `give ${pending} a newer timestamp prefix than every applied migration (rename the file in ${folder}/), then run the command again`,
      cause: error,
    });
  }
  const deleted = /Definitions of migrations (.+) have been deleted/.exec(message);
  if (deleted) {
    return new TaskError(`cannot roll back ${deleted[1]}: applied, but the file is gone from ${folder}/`, {
      hint: 'restore the file from version control (git log -- migrations/), then run the command again',
      cause: error,
    });
  }

  if (/Connection terminated|ECONNRESET|server closed the connection/i.test(message) || code === '57P01') {
    return new TaskError(`lost the database connection${migration ? ` during migration ${migration}` : ''}: ${message}`, {
      hint: 'the server stopped or restarted under the run; its open transaction was rolled back. Check the server, then run `gulp migrate` again',
      cause: error,
    });
  }
  const outcome = rollbackOutcome(config, direction, finishedCount);
  if (!migration) {
    return new TaskError(`could not load the migrations in ${folder}/: ${message}`, {
      hint: isNotAMigrationError(message)
        ? `${notAMigrationHint(folder)}; nothing was changed`
        : 'fix the file named above (a syntax error or a failing import), then run the command again; nothing was changed',
      cause: error,
    });
  }
  const sql = detail ? `\n${indent(detail.replace(/^Error executing:\n/, '').trim())}` : '';
  if (code && DUPLICATE_OBJECT_CODES.has(code) && direction === 'up') {
    return new TaskError(`migration ${migration} failed: ${message}${sql}\n${outcome}`, {
      hint: `an earlier run applied part of ${migration} outside these tasks (a half-applied migration): drop the objects it already created (named above) by hand, then run again (these tasks roll a failed migration back whole, so they never leave this state)`,
      cause: error,
    });
  }
  return new TaskError(`migration ${migration} failed (${direction}): ${message}${sql}\n${outcome}`, {
    hint: `fix ${migration} in ${folder}/, then run the command again`,
    cause: error,
  });
}

function rollbackOutcome(config: Config, direction: Direction, finishedCount: number): string {
  if (config.singleTransaction) return 'Single transaction: the whole run was rolled back; the database is as it was before.';
  if (finishedCount === 0) return 'It was rolled back; no migration of this run was applied.';
  const verb = direction === 'up' ? 'applied' : 'rolled back';
  return `It was rolled back; the ${finishedCount} migration(s) before it stay ${verb} (--no-single-transaction).`;
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

/** Whether the folder holds a file for this ledger name (any extension). */
function migrationFileExists(dir: string, name: string): boolean {
  try {
    return readdirSync(dir).some((file) => path.parse(file).name === name);
  } catch {
    return false;
  }
}

/** node-pg-migrate's complaint about a file in the migrations folder that is not a migration at all. */
export function isNotAMigrationError(message: string): boolean {
  return /numeric prefix|Unknown file extension/i.test(message);
}

/** What to do about such a file. */
export function notAMigrationHint(folder: string): string {
  return `name every migration <timestamp>_<name>.(ts|js|sql) and move other files out of ${folder}/ (\`gulp migrate:status\` lists what is not a migration and why)`;
}
