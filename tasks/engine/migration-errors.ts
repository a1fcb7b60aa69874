import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Direction } from '../settings/settings';
import type { MigrationSettings } from './types';
import { classifyConnectionError } from '../db/connection-errors';
import { formatDuration } from '../settings/duration';
import { TaskError, messageOf } from '../util/errors';
import { isNotAMigrationError, notAMigrationHint } from '../sources/migration-folder';
import { describeSession, type SessionInfo } from '../db/lock-diagnosis';
import { shellArg } from '../util/shell';

export interface FailureContext {
  settings: MigrationSettings;
  direction: Direction;
  /** The migration that was running, if the runner got that far. */
  migration?: string;
  /** node-pg-migrate's own description (failing SQL with a caret). */
  detail?: string;
  /** How many migrations the run had finished before the failure. */
  finishedCount: number;
  /** After a lock or statement timeout: the sessions that held table locks in an open transaction right after it. */
  lockHolders?: SessionInfo[];
  /**
   * What the database holds after the failure, looked at afresh (when it could be): the migrations of this run that its
   * ledger now records (committed despite the failure: a noTransaction migration, a COMMIT inside one), and the INVALID
   * indexes a failed CREATE INDEX CONCURRENTLY leaves. Without it, the outcome is told from the transaction mode.
   */
  leftovers?: Leftovers;
  /**
   * The failing migration ran outside any transaction (`pgm.noTransaction()`): how many of its statements completed,
   * when known. What they did stays, and the migration is not recorded as applied.
   */
  outsideTransaction?: { done?: number; of?: number };
}

/** See {@link FailureContext.leftovers}. */
export interface Leftovers {
  committed: string[];
  invalidIndexes: string[];
}

const DUPLICATE_OBJECT_CODES = new Set(['42P07', '42701', '42710', '42P06', '42723']);
const CONNECTION_CODES = new Set(['ECONNREFUSED', '28P01', '3D000', '28000', 'ENOTFOUND', 'EAI_AGAIN', '57P03', 'ETIMEDOUT']);

/** Turns whatever node-pg-migrate's runner threw into a TaskError that says what happened and what to run next. */
export function explainMigrationFailure(
  error: unknown,
  { settings, direction, migration, detail, finishedCount, lockHolders, leftovers, outsideTransaction }: FailureContext,
): TaskError {
  const message = messageOf(error);
  const code = (error as { code?: string }).code;
  const folder = path.relative(settings.source.projectDir, settings.source.migrationsDir) || '.';

  if (code && CONNECTION_CODES.has(code)) {
    const failure = classifyConnectionError(error, settings.connection);
    return new TaskError(failure.message, { hint: failure.hint, cause: error });
  }
  if (message.includes('Another migration is already running')) {
    // runMigrations takes the lock itself (migration-lock.ts); this is the runner's own refusal, should it ever be reached.
    return new TaskError('another migration is running on this database', {
      hint: 'wait for it to finish and run the command again, or pass `--lock-mode wait` to wait for it (up to --timeout)',
      cause: error,
    });
  }
  const outOfOrder = /Not run migration (\S+) is preceding already run migration (\S+)/.exec(message);
  if (outOfOrder) {
    const [, pending, applied] = outOfOrder as unknown as [string, string, string];
    // node-pg-migrate compares the ledger and the folder position by position: a deleted applied file shifts every
    // later file, and it then names a file that is not out of order at all.
    if (!migrationFileExists(settings.source.migrationsDir, applied)) {
      return new TaskError(`migration ${applied} is applied, but its file is missing from ${folder}/`, {
        hint:
          'restore it from version control (`git log --diff-filter=D --name-only -- ' +
          `${shellArg(`${folder}/`)}\`); \`gulp migrate:status\` lists every missing file`,
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
      hint: `restore the file from version control (git log -- ${shellArg(`${folder}/`)}), then run the command again`,
      cause: error,
    });
  }

  // "… is not queryable": the connection died and node-pg-migrate's ROLLBACK on it failed, replacing the first error.
  if (/Connection terminated|ECONNRESET|server closed the connection|is not queryable/i.test(message) || code === '57P01' || code === '57P02') {
    return new TaskError(`lost the database connection${migration ? ` during migration ${migration}` : ''}: ${message}`, {
      hint: 'the server stopped or restarted under the run; its open transaction was rolled back. Check the server (for one these tasks started, its log is printed above), then run the command again',
      cause: error,
    });
  }
  const partial = partialOutcome(migration, outsideTransaction);
  const outcome = rollbackOutcome(settings, direction, finishedCount, leftovers, partial !== '') + partial;
  const timeout = timeoutKind(error);
  if (timeout) return explainTimeout(error, timeout, { settings, direction, migration, detail, lockHolders, outcome });
  if (!migration) {
    const ledgerProblem = explainLedgerAccess(error, message, settings);
    if (ledgerProblem) return ledgerProblem;
    return new TaskError(`could not load the migrations in ${folder}/: ${message}`, {
      hint: isNotAMigrationError(message)
        ? `${notAMigrationHint(folder)}; no migration was run`
        : 'fix the file named above (a syntax error or a failing import), then run the command again; no migration was run',
      cause: error,
    });
  }
  // What the server said besides its message (a duplicated key, its own hint, the PL/pgSQL line), as psql prints it.
  const sql = `${serverNotes(error)}${detail ? `\n${indent(excerpt(statementOf(detail, message), error, migrationSqlFile(settings.source.migrationsDir, migration)))}` : ''}`;
  if (code && DUPLICATE_OBJECT_CODES.has(code) && direction === 'up') {
    return new TaskError(`migration ${migration} failed: ${message}${sql}\n${outcome}`, {
      hint: `part of ${migration} is already in the database (a half-applied migration: an earlier run outside these tasks, or a migration that ran outside a transaction, pgm.noTransaction(), and failed halfway): drop the objects it already created (named above) by hand, then run again`,
      cause: error,
    });
  }
  const missingExtension = /extension "([^"]+)" is not available/.exec(message)?.[1];
  if (missingExtension) {
    return new TaskError(`migration ${migration} failed (${direction}): ${message}${sql}\n${outcome}`, {
      hint: `this server has no ${missingExtension} extension: DB_PROVIDER=pglite has pgvector, uuid-ossp, pg_trgm and pgcrypto without Docker; or DB_PROVIDER=docker with an image that has it (DB_IMAGE=pgvector/pgvector:pg15 for vector)`,
      cause: error,
    });
  }
  if (code === INSUFFICIENT_PRIVILEGE && settings.connection.migrateAs !== 'superuser') {
    return new TaskError(
      `migration ${migration} failed (${direction}): ${message}${sql}\n${outcome}\nThe migrations run as the application role "${settings.connection.user}", which may not do this.`,
      {
        hint: `on a database these tasks start (migrate:local, migrate:verify), DB_MIGRATE_AS=superuser runs the migrations as its superuser; elsewhere, grant "${settings.connection.user}" what ${migration} needs`,
        cause: error,
      },
    );
  }
  return new TaskError(`migration ${migration} failed (${direction}): ${message}${sql}\n${outcome}`, {
    hint: `fix ${migration} in ${folder}/, then run the command again`,
    cause: error,
  });
}

/**
 * Before any migration: the ledger cannot be created, read or written (node-pg-migrate says "Unable to ensure
 * migrations table: …" or "Unable to fetch migrations: …", and its rewrap loses the SQLSTATE). PostgreSQL 15+ gives no
 * CREATE on schema public to a role that does not own the database (42501); a read-only database or a hot standby
 * refuses every write (25006). The files are fine: say what is wrong with the database and what to run.
 */
function explainLedgerAccess(error: unknown, message: string, settings: MigrationSettings): TaskError | undefined {
  const code = (error as { code?: string }).code;
  const aboutLedger = /Unable to (ensure|fetch|check|read)[^:]*migrations/i.test(message) || code === INSUFFICIENT_PRIVILEGE || code === READ_ONLY_TRANSACTION;
  if (!aboutLedger) return undefined;
  // node-pg-migrate puts the cause's whole stack in its message: its first line is the reason.
  const reason = message
    .replace(/^Unable to [^:]+:\s*(error:\s*)?/i, '')
    .split('\n')[0]!
    .trim();
  const { user, database } = settings.connection;
  const ledger = `${settings.ledger.schema}.${settings.ledger.table}`;
  const schema = /permission denied for schema (\S+)/.exec(reason)?.[1];
  if (schema !== undefined || (code === INSUFFICIENT_PRIVILEGE && /permission denied/.test(reason))) {
    const on = schema ?? settings.ledger.schema;
    return new TaskError(`the role "${user}" may not create the ledger table ${ledger} in database ${database}: ${reason}; no migration was run`, {
      hint: `as the database's owner or a superuser: GRANT CREATE ON SCHEMA ${on} TO "${user}"; or migrate as the role that owns the database`,
      cause: error,
    });
  }
  if (/permission denied for (table|relation|sequence)/.test(reason)) {
    return new TaskError(`the role "${user}" may not read or write the ledger table ${ledger} in database ${database}: ${reason}; no migration was run`, {
      hint: `as its owner or a superuser: GRANT SELECT, INSERT, DELETE ON ${ledger} TO "${user}" (and USAGE on its id sequence); or migrate as the role that owns it`,
      cause: error,
    });
  }
  if (code === READ_ONLY_TRANSACTION || /read-only transaction|recovery is in progress/.test(reason)) {
    return new TaskError(`database ${database} is read-only here (${reason}); no migration was run`, {
      hint: 'migrate on the primary (a hot standby is read-only), or turn off default_transaction_read_only for the database',
      cause: error,
    });
  }
  return undefined;
}

/** SQLSTATE 25006: a write in a read-only transaction (default_transaction_read_only, a hot standby). */
const READ_ONLY_TRANSACTION = '25006';

/** SQLSTATE 42501: permission denied / must be superuser. */
const INSUFFICIENT_PRIVILEGE = '42501';

type TimeoutKind = 'lock' | 'statement' | 'canceled';

/** Whether the runner failed on a lock timeout (55P03), a statement timeout or a cancel (57014). */
export function isTimeoutFailure(error: unknown): boolean {
  return timeoutKind(error) !== undefined;
}

function timeoutKind(error: unknown): TimeoutKind | undefined {
  const code = (error as { code?: string } | undefined)?.code;
  // node-pg-migrate rewraps errors while it prepares its ledger ("Unable to ensure migrations table: …"): the code is lost there.
  const message = messageOf(error);
  if (/due to lock timeout/.test(message) || (code === '55P03' && !/due to statement timeout/.test(message))) return 'lock';
  if (/due to statement timeout/.test(message)) return 'statement';
  if (code === '57014' || /canceling statement due to user request/.test(message)) return 'canceled';
  return undefined;
}

interface TimeoutContext {
  settings: MigrationSettings;
  direction: Direction;
  migration?: string;
  detail?: string;
  lockHolders?: SessionInfo[];
  outcome: string;
}

/**
 * A migration stopped by --lock-timeout / --statement-timeout (or the server's own settings, or a cancel): which
 * setting fired, the statement, the sessions holding locks (the likely blocker), and that it was rolled back.
 */
function explainTimeout(error: unknown, kind: TimeoutKind, { settings, direction, migration, detail, lockHolders = [], outcome }: TimeoutContext): TaskError {
  const subject = migration ? `migration ${migration} (${direction})` : 'the migration run, before its first migration (while preparing the ledger),';
  const sql = detail
    ? `\n${indent(excerpt(statementOf(detail, messageOf(error)), error, migration && migrationSqlFile(settings.source.migrationsDir, migration)))}`
    : '';
  const holders =
    lockHolders.length > 0
      ? `\nSessions holding locks in an open transaction (the likely blocker):${lockHolders.map((session) => `\n    ${describeSession(session)}`).join('')}`
      : '';
  const fix = migration ? `fix ${migration} if it is at fault, or ` : '';
  if (kind === 'lock') {
    const none = holders || '\nNo session holds a table lock in an open transaction now: the blocker has finished, or it held row locks only.';
    return new TaskError(
      `${subject} was stopped by ${describeSetting('lock', settings)}: it waited longer than that for a lock another session holds${sql}${none}\n${outcome}`,
      {
        hint:
          'find the session holding the lock (listed above, or in pg_stat_activity) and let it finish or end it (SELECT pg_terminate_backend(PID)), ' +
          `or ${fix}raise --lock-timeout; then run the command again`,
        cause: error,
      },
    );
  }
  if (kind === 'statement') {
    return new TaskError(`${subject} was stopped by ${describeSetting('statement', settings)}: it ran longer than that${sql}${holders}\n${outcome}`, {
      hint: `${migration ? `make ${migration} faster (or split it), or ` : ''}raise --statement-timeout${holders ? ', or end the session blocking it (listed above)' : ''}; then run the command again`,
      cause: error,
    });
  }
  return new TaskError(`${subject} was canceled from another session (pg_cancel_backend, or an administrator)${sql}\n${outcome}`, {
    hint: 'find out who canceled it (the server log names the session), then run the command again',
    cause: error,
  });
}

/** The statement of node-pg-migrate's "Error executing:" description, without the error line it ends with. */
function statementOf(detail: string, message: string): string {
  const lines = detail
    .replace(/^Error executing:\n/, '')
    .trimEnd()
    .split('\n');
  if (lines.length > 1 && lines.at(-1)!.includes(message)) lines.pop();
  return lines.join('\n').trim();
}

/** SQL longer than this is shown as an excerpt around the failing line (a 60 000-row .sql file is not printed whole). */
const MAX_SQL_LINES = 12;
const MAX_SQL_CHARS = 2_000;
const CONTEXT_LINES = 3;
const MAX_LINE_CHARS = 200;

/**
 * The failing SQL as the error shows it: whole when short; otherwise the lines around the error's position (PostgreSQL
 * gives a character offset for parse and many planning errors), numbered as in the migration's `.sql` file when it is
 * one, or its first lines when the error has no position (a constraint violation). Never thousands of lines: through
 * a pipe, a huge message is cut off before the outcome and the hint that follow it.
 */
export function excerpt(described: string, error: unknown, file?: string): string {
  const described_ = described.split('\n');
  if (described_.length <= MAX_SQL_LINES && described.length <= MAX_SQL_CHARS) return described;
  // node-pg-migrate marks the error's position with a line of carets under the failing line: that line is the error's.
  const caret = described_.findIndex((line, index) => index > 0 && /^\s*\^+\s*$/.test(line));
  const lines = caret === -1 ? described_ : described_.filter((_, index) => index !== caret);
  const sql = lines.join('\n');
  const position = caret === -1 ? Number((error as { position?: string } | undefined)?.position) : sql.split('\n', caret - 1).join('\n').length + 2;
  // Line numbers in the file: the SQL sent is the file's up section, found in the file's text by its first lines.
  const fileText = file ? readTextOrEmpty(file) : '';
  const start = fileText ? fileText.indexOf(lines.slice(0, 3).join('\n')) : -1;
  const firstLine = start >= 0 ? fileText.slice(0, start).split('\n').length : 1;
  const where = start >= 0 && file ? path.basename(file) : 'its SQL';
  const at = Number.isInteger(position) && position > 0 ? sql.slice(0, position - 1).split('\n').length - 1 : undefined;
  const from = at === undefined ? 0 : Math.max(0, at - CONTEXT_LINES);
  const to = at === undefined ? Math.min(lines.length, 2 * CONTEXT_LINES) : Math.min(lines.length, at + CONTEXT_LINES + 1);
  const width = String(firstLine + to).length;
  const shown = lines.slice(from, to).flatMap((line, index) => {
    const number = from + index;
    const text = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)} …` : line;
    const row = `${number === at ? '>' : ' '} ${String(firstLine + number).padStart(width)} | ${text}`;
    return number === at && caret !== -1 ? [row, `  ${' '.repeat(width)} | ${described_[caret]!.slice(0, MAX_LINE_CHARS)}`] : [row];
  });
  return [
    at === undefined
      ? `(the first ${to} of ${lines.length} lines of ${where}; the error names no position)`
      : `(lines ${firstLine + from}–${firstLine + to - 1} of ${where}, ${lines.length} lines in all)`,
    ...(from > 0 ? ['  …'] : []),
    ...shown,
    ...(to < lines.length ? ['  …'] : []),
  ].join('\n');
}

/** The `.sql` file of a migration, if it is one. */
function migrationSqlFile(dir: string, name: string): string | undefined {
  const file = path.join(dir, `${name}.sql`);
  return readTextOrEmpty(file) ? file : undefined;
}

function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** "--lock-timeout 2 s", "DB_STATEMENT_TIMEOUT 5 min", or the server's setting when the run set none. */
function describeSetting(kind: 'lock' | 'statement', settings: MigrationSettings): string {
  const ms = kind === 'lock' ? settings.run.lockTimeoutMs : settings.run.statementTimeoutMs;
  const source = kind === 'lock' ? settings.run.timeoutSources?.lockTimeout : settings.run.timeoutSources?.statementTimeout;
  const name = kind === 'lock' ? 'lock_timeout' : 'statement_timeout';
  if (ms === undefined || source === undefined) return `the server's ${name} (set for the role or database; this run set none)`;
  return `${source} ${formatDuration(ms)} (${name})`;
}

/** What a failed migration that ran outside any transaction left: its statements before the failing one stay. */
function partialOutcome(migration: string | undefined, outside: FailureContext['outsideTransaction']): string {
  if (!migration || !outside || outside.done === 0) return '';
  const ran =
    outside.done === undefined
      ? 'the statements before the failing one ran and stay'
      : outside.done === outside.of
        ? `all ${outside.of} of its statements ran and stay (recording it failed)`
        : `${outside.done} of its ${outside.of} statements ran and stay`;
  return `\n${migration} ran outside a transaction (pgm.noTransaction()): ${ran}, but it is not recorded as applied. Undo them by hand, or make them safe to run again (IF NOT EXISTS), before the next run.`;
}

function rollbackOutcome(settings: MigrationSettings, direction: Direction, finishedCount: number, leftovers: Leftovers | undefined, partial: boolean): string {
  const invalid = leftovers?.invalidIndexes ?? [];
  const left =
    invalid.length > 0
      ? `\nLeft behind: INVALID ${invalid.length === 1 ? 'index' : 'indexes'} from a failed CREATE INDEX CONCURRENTLY (unused by queries, still written to): ${invalid.map((index) => `DROP INDEX CONCURRENTLY ${index};`).join(' ')}`
      : '';
  const committed = leftovers?.committed ?? [];
  if (committed.length > 0) {
    // Whatever the transaction mode says, the ledger says what stayed: never claim a rollback that did not happen.
    const verb = direction === 'up' ? 'applied' : 'rolled back';
    return `Not everything was rolled back: ${committed.length === 1 ? 'this migration of the run stays' : `these ${committed.length} migrations of the run stay`} ${verb} (committed outside the run's transaction: pgm.noTransaction(), or a COMMIT inside a migration): ${committed.join(', ')}.${left}`;
  }
  // A failed migration that ran outside any transaction: what it did is told after this, so nothing is claimed of it here.
  if (settings.run.singleTransaction)
    return partial
      ? `Single transaction: the rest of the run was rolled back.${left}`
      : `Single transaction: the whole run was rolled back; the database is as it was before.${left}`;
  const verb = direction === 'up' ? 'applied' : 'rolled back';
  if (finishedCount === 0)
    return partial ? `No other migration of this run was ${verb}.${left}` : `It was rolled back; no migration of this run was applied.${left}`;
  return partial
    ? `The ${finishedCount} migration(s) before it stay ${verb} (--no-single-transaction).${left}`
    : `It was rolled back; the ${finishedCount} migration(s) before it stay ${verb} (--no-single-transaction).${left}`;
}

/**
 * The DETAIL, HINT and CONTEXT lines of a server error (pg's DatabaseError `detail`, `hint`, `where`), each on its own
 * line as psql prints them; nothing for other errors.
 */
export function serverNotes(error: unknown): string {
  const { detail, hint, where } = (error ?? {}) as { detail?: unknown; hint?: unknown; where?: unknown };
  const notes = (
    [
      ['DETAIL', detail],
      ['HINT', hint],
      ['CONTEXT', where],
    ] as const
  ).filter(([, text]) => typeof text === 'string' && text.trim() !== '');
  return notes.map(([label, text]) => `\n${label}: ${String(text).trim().replace(/\n/g, '\n  ')}`).join('');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** Whether the folder holds a file for this ledger name (any extension). */
function migrationFileExists(dir: string, name: string): boolean {
  try {
    return readdirSync(dir).some((file) => path.parse(file).name === name);
  } catch {
    return false;
  }
}
