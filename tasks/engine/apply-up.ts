import type { Client } from 'pg';
import { checksumTableName, ledgerTableName } from '../db/ledger';
import { createChecksumTableSql, hashMigrationContent, hashMigrationFileSync, upsertChecksumsSql, type RanMigration } from '../db/checksums';
import {
  isLexicallyClosed,
  ledgerStatement,
  loadMigrationFiles,
  quoteLiteral,
  renderMigration,
  runnerLedgerStatement,
  type LoadedMigration,
  type RenderedMigration,
} from '../sources/render-sql';
import { DEFAULT_IGNORE_PATTERN } from '../sources/migration-folder';
import type { Logger } from '../util/logger';
import type { MigrationProgress } from './migration-progress';
import type { MigrationSettings } from './types';
import type { LedgerSettings } from '../settings/settings';

type MigrationLoaderStrategy = import('node-pg-migrate/migrationLoader').MigrationLoaderStrategy;

/** A batch is sent once its SQL is this long (characters): one round trip for a thousand trivial migrations. */
const BATCH_CHARS = 1_000_000;

/** Column names of the marker rows a batch returns: when it started, each step of a migration, each migration. */
const START = 'pgmt:start';
const STEP = 'pgmt:step';
const DONE = 'pgmt:done';
/**
 * Sent after each migration of a single-transaction batch. The server holds a batch's result rows in its 8 KB send
 * buffer until the batch ends; a message of level INFO (sent whatever client_min_messages says) is written out at
 * once, with the rows before it: the run learns that a migration is done while the next one runs (its line, "Still
 * running …", the one a lost connection names). About 40 µs per migration (PL/pgSQL; 2 000 trivial ones: +80 ms).
 */
const FLUSH = "DO $$BEGIN RAISE INFO 'pgmt: progress'; END$$";

/** node-pg-migrate's runner, on a client, for the next `count` pending migrations, loading the files with `strategies`. */
export type RunnerSegment = (dbClient: Client, count: number, strategies: MigrationLoaderStrategy[]) => Promise<{ name: string }[]>;

export interface ApplyUpOptions {
  /** A session that holds the migration lock, with the run's session settings. */
  client: Client;
  settings: MigrationSettings;
  count: number;
  progress: MigrationProgress;
  /** Record checksums, in the migrations' own transactions. */
  checksums: boolean;
  /** Runs the migrations that cannot be rendered beforehand. */
  runner: RunnerSegment;
}

/** What applyUp did: the migrations applied, and whether their checksums were recorded with them. */
export interface AppliedUp {
  ran: RanMigration[];
  /** Why the checksums could not be recorded (the migrations ran): the run warns. */
  checksumFailure?: unknown;
}

/** One migration of the plan: its file as loaded, its SQL when it could be rendered beforehand, the checksum of its bytes. */
interface Step {
  migration: LoadedMigration;
  rendered?: RenderedMigration;
  sha256: string;
}

/**
 * `up` with fewer round trips than node-pg-migrate's runner, which sends each statement and each ledger row on its
 * own (2 000 round trips for 1 000 trivial migrations): the same preparation (schemas, search_path, the ledger table
 * created or given its primary key, the runner's order check), every file loaded once and rendered once by
 * node-pg-migrate's own MigrationBuilder (as --dry-run renders it), then sent in batches: each migration's statements
 * as they are, its ledger row (node-pg-migrate's, with the name quoted) and its checksum. Transactions as the runner's:
 * one for the run (`BEGIN` … `COMMIT` around the batches, many migrations per round trip), or one per migration
 * (--no-single-transaction: `BEGIN` … `COMMIT` in one round trip per migration). A `pgm.noTransaction()` migration runs outside any
 * transaction, one statement at a time, never batched; a migration that queries the database while it builds its SQL
 * (or fails to build it, or leaves a quote or comment open) goes to node-pg-migrate's runner, in order, on the same session and in the same transaction.
 * Marker rows in each batch (the server's clock after each migration) give each migration's line its duration and tell
 * which migration and statement failed.
 * Returns undefined when the files cannot be loaded: the runner then runs (and explains) it as before.
 */
export async function applyUp({ client, settings, count, progress, checksums, runner }: ApplyUpOptions): Promise<AppliedUp | undefined> {
  const { source, ledger } = settings;
  const [loaded, applied] = await Promise.all([
    loadMigrationFiles({ dir: source.migrationsDir, projectDir: source.projectDir, ignorePattern: source.ignorePattern ?? DEFAULT_IGNORE_PATTERN }).catch(
      () => undefined,
    ),
    prepareLedger(client, settings),
  ]);
  // Before PostgreSQL 13, statement_timeout bounds a whole multi-statement message, not each statement: the runner then.
  if (!loaded || applied.serverVersion < 130_000) return undefined;
  checkOrder(applied.names, loaded);
  const done = new Set(applied.names);
  const toRun = loaded.filter((migration) => !done.has(migration.name)).slice(0, count);
  if (toRun.length === 0) {
    progress.runnerLogger.info('No migrations to run!');
    return { ran: [] };
  }
  progress.plan(toRun.map((migration) => migration.name));

  const renderLogger: Logger = { info: () => undefined, warn: (message) => progress.runnerLogger.warn(message), error: () => undefined };
  const steps: Step[] = [];
  for (const migration of toRun) {
    const rendered = await renderMigration(migration, {
      direction: 'up',
      migrationsTable: ledger.table,
      migrationsSchema: ledger.schema,
      projectDir: source.projectDir,
      logger: renderLogger,
    }).catch(() => undefined);
    // A statement left open (a quote, a comment) could close in the statements sent after it: the runner sends it alone.
    const joinable = rendered?.statements.every((statement) => isLexicallyClosed(statement));
    steps.push({
      migration,
      rendered: joinable ? rendered : undefined,
      sha256: migration.bytes ? hashMigrationContent(migration.bytes) : hashMigrationFileSync(migration.path),
    });
  }
  const run = new Applier(client, settings, progress, runner, loaded, applied.plpgsql);
  await run.prepareChecksums(checksums);
  for (let index = 0; index < steps.length;) {
    const step = steps[index]!;
    if (!step.rendered) {
      let end = index;
      while (end < steps.length && !steps[end]!.rendered) end += 1;
      await run.viaRunner(steps.slice(index, end));
      index = end;
    } else if (!step.rendered.usesTransaction) {
      await run.outsideTransaction(step);
      index += 1;
    } else {
      run.add(step);
      await run.sendWhenFull();
      index += 1;
    }
  }
  await run.end();
  return { ran: toRun.map(({ name, path }) => ({ name, path })), ...(run.checksumFailure !== undefined && { checksumFailure: run.checksumFailure }) };
}

/**
 * The runner's preparation, on the locked session: the run's schemas and search_path (a --schemas target), the ledger's
 * schema, the ledger table (created, or given its primary key), then the applied names in the runner's order.
 */
async function prepareLedger(client: Client, { ledger }: MigrationSettings): Promise<{ names: string[]; serverVersion: number; plpgsql: boolean }> {
  const quote = (identifier: string) => client.escapeIdentifier(identifier);
  if (ledger.runSchema !== undefined) {
    const schemas = [ledger.runSchema].filter(Boolean);
    for (const schema of schemas) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
    await client.query(`SET search_path TO ${(schemas.length > 0 ? schemas : ['public']).map(quote).join(', ')}`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(ledger.schema)}`);
  }
  const table = ledgerTableName(client, ledger);
  let serverVersion: number;
  let plpgsql: boolean;
  try {
    // node-pg-migrate's ensureMigrationsTable, in one round trip when the table is there.
    // PL/pgSQL (for the progress flush) is there unless dropped from the database.
    const { rows } = await client.query<{ exists: boolean; keyed: boolean; version: number; plpgsql: boolean }>(
      `SELECT current_setting('server_version_num')::int AS version,
              EXISTS (SELECT FROM pg_language WHERE lanname = 'plpgsql') AS plpgsql,
              EXISTS (SELECT FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2) AS exists,
              (SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = $1 AND table_name = $2 AND constraint_type = 'PRIMARY KEY') = 1 AS keyed`,
      [ledger.schema, ledger.table],
    );
    serverVersion = rows[0]?.version ?? 0;
    plpgsql = rows[0]?.plpgsql === true;
    if (!rows[0]?.exists) await client.query(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`);
    else if (!rows[0].keyed) await client.query(`ALTER TABLE ${table} ADD PRIMARY KEY (id)`);
  } catch (error) {
    // The runner's own wording, which the failure explanation recognises.
    throw new Error(`Unable to ensure migrations table: ${(error as Error).stack ?? String(error)}`, { cause: error });
  }
  const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY run_on, id`);
  return { names: rows.map((row) => row.name), serverVersion, plpgsql };
}

/** node-pg-migrate's checkOrder: the applied migrations are the first files of the folder, in order (its own error). */
function checkOrder(applied: readonly string[], migrations: readonly { name: string }[]): void {
  const length = Math.min(applied.length, migrations.length);
  for (let index = 0; index < length; index += 1) {
    if (applied[index] !== migrations[index]!.name)
      throw new Error(`Not run migration ${migrations[index]!.name} is preceding already run migration ${applied[index]}`);
  }
}

/** One piece of a batch's text: a migration's statement (what a failure names), or the framing around them. */
interface Piece {
  text: string;
  /** The migration it belongs to (index in the batch), for a statement. */
  member?: number;
}

/** Sends the plan: batches of rendered migrations, migrations outside the transaction, runner segments. */
class Applier {
  #pieces: Piece[] = [];
  #length = 0;
  #members: Step[] = [];
  /** In single-transaction mode: a transaction is open (or opened by the batch being built). */
  #inTransaction = false;
  #checksumTable?: string;
  checksumFailure?: unknown;
  readonly #single: boolean;

  constructor(
    private readonly client: Client,
    private readonly settings: MigrationSettings,
    private readonly progress: MigrationProgress,
    private readonly runner: RunnerSegment,
    private readonly loaded: readonly LoadedMigration[],
    private readonly flushes: boolean,
  ) {
    this.#single = settings.run.singleTransaction;
  }

  /**
   * Checksums are recorded with each migration when their table is there or can be created: in single-transaction mode
   * it is created in the run's transaction (behind a savepoint: a role that may not create it still migrates, and a
   * failed run leaves no table behind), otherwise before the first migration.
   */
  async prepareChecksums(wanted: boolean): Promise<void> {
    if (!wanted) return;
    const table = checksumTableName(this.client, this.settings.ledger);
    // Written in the migrations' own transactions: a table the role may not write would fail the migrations themselves.
    const { rows } = await this.client.query<{ exists: boolean; writable: boolean; role: string }>(
      `SELECT to_regclass($1) IS NOT NULL AS exists, current_user AS role,
              to_regclass($1) IS NULL OR (has_table_privilege($1, 'SELECT') AND has_table_privilege($1, 'INSERT') AND has_table_privilege($1, 'UPDATE')) AS writable`,
      [table],
    );
    if (rows[0]?.exists && !rows[0].writable) {
      const role = this.client.escapeIdentifier(rows[0].role);
      this.checksumFailure = new Error(
        `the role ${role} may not write the checksum table ${table}; as its owner or a superuser: GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${role}`,
      );
      return;
    }
    if (!rows[0]?.exists) {
      try {
        if (this.#single) {
          await this.client.query('BEGIN');
          this.#inTransaction = true;
          await this.client.query(`SAVEPOINT pgmt_checksums; ${createChecksumTableSql(table)}; RELEASE SAVEPOINT pgmt_checksums`);
        } else {
          await this.client.query(createChecksumTableSql(table));
        }
      } catch (error) {
        if (this.#inTransaction) await this.client.query('ROLLBACK TO SAVEPOINT pgmt_checksums');
        this.checksumFailure = error;
        return;
      }
    }
    this.#checksumTable = table;
  }

  /** Adds a rendered migration that runs in a transaction to the batch being built; sends the batch when it is long. */
  add(step: Step): void {
    const member = this.#members.length;
    this.#members.push(step);
    const { statements, name } = step.rendered!;
    if (this.#pieces.length === 0) {
      if (this.#single && !this.#inTransaction) this.#frame('BEGIN');
      this.#inTransaction = this.#single;
      this.#frame(`SELECT clock_timestamp() AS "${START}"`);
    }
    if (!this.#single) this.#frame('BEGIN');
    statements.forEach((statement, index) => {
      this.#piece({ text: statement, member });
      if (index < statements.length - 1) this.#frame(`SELECT ${index} AS "${STEP}"`);
    });
    const ledger = this.#ledger(name);
    if (this.#single) {
      this.#piece({ text: `${ledger.replace(/;$/, '')} RETURNING clock_timestamp() AS "${DONE}"`, member });
      if (this.flushes) this.#frame(FLUSH);
    } else {
      this.#piece({ text: ledger, member });
      if (this.#checksumTable) this.#piece({ text: this.#checksums([step]), member });
      this.#frame('COMMIT');
      this.#frame(`SELECT clock_timestamp() AS "${DONE}"`);
    }
  }

  /**
   * Sends the batch being built once it is long enough (the run's transaction stays open). With a transaction per
   * migration, each is sent on its own: NOW() is the time the server received the message, so transactions sent
   * together would share one run_on, where node-pg-migrate's each get their own.
   */
  async sendWhenFull(): Promise<void> {
    if (!this.#single || this.#length >= BATCH_CHARS) await this.#send();
  }

  /** A `pgm.noTransaction()` migration: the run's transaction committed first (as the runner does), then each statement on its own. */
  async outsideTransaction(step: Step): Promise<void> {
    await this.#send(this.#single && this.#inTransaction ? 'COMMIT' : undefined);
    this.#inTransaction = false;
    const { name, statements } = step.rendered!;
    this.progress.start(name);
    this.progress.outsideTransaction(name);
    const counted = { done: 0, of: statements.length };
    this.progress.outside.set(name, counted);
    for (const statement of statements) {
      await this.#alone(statement);
      counted.done += 1;
    }
    const record = [this.#ledger(name), ...(this.#checksumTable ? [this.#checksums([step])] : [])].join(';\n');
    await this.#alone(record);
    this.progress.done();
  }

  /** Migrations that cannot be rendered beforehand: node-pg-migrate's runner, on this session, in the run's transaction. */
  async viaRunner(segment: Step[]): Promise<void> {
    await this.#send();
    if (this.#single && !this.#inTransaction) {
      await this.client.query('BEGIN');
      this.#inTransaction = true;
    }
    const session = runnerSession(this.client, this.settings.ledger, { ownTransaction: this.#single });
    // One runner call for the segment in the run's transaction; one per migration otherwise, so that each committed
    // migration's checksum is recorded before the next one runs.
    for (const part of this.#single ? [segment] : segment.map((step) => [step])) {
      const names = part.map((step) => step.migration.name);
      const ran = await this.runner(session, part.length, this.#preloaded());
      this.progress.settle();
      const ranNames = ran.map((migration) => migration.name);
      if (ranNames.join('\n') !== names.join('\n'))
        throw new Error(`node-pg-migrate applied ${ranNames.join(', ') || 'nothing'} where ${names.join(', ')} were expected next`);
      if (this.#checksumTable) await this.client.query(this.#checksums(part));
    }
  }

  /** Sends what is left, and commits the run's transaction. */
  async end(): Promise<void> {
    await this.#send(this.#single && this.#inTransaction ? 'COMMIT' : undefined);
    this.#inTransaction = false;
  }

  /** Sends the batch built so far (with `last` appended: COMMIT), one round trip; throws the first error, naming its statement. */
  async #send(last?: string): Promise<void> {
    if (this.#members.length === 0) {
      if (last) await this.client.query(last);
      return;
    }
    if (this.#single && this.#checksumTable) this.#frame(this.#checksums(this.#members));
    if (last) this.#frame(last);
    const pieces = this.#pieces;
    const members = this.#members;
    const text = pieces.map((piece) => piece.text).join('\n;\n');
    this.#pieces = [];
    this.#members = [];
    this.#length = 0;

    let member = 0;
    let stepsDone = 0;
    let previous: number | undefined;
    this.progress.start(members[0]!.migration.name);
    const onRow = (row: Record<string, unknown>, result?: { fields: { name: string }[] }) => {
      const column = result?.fields[0]?.name;
      if (column === STEP) stepsDone += 1;
      else if (column === START) previous = (row[START] as Date).getTime();
      else if (column === DONE) {
        const at = (row[DONE] as Date).getTime();
        this.progress.done(previous === undefined ? undefined : at - previous);
        previous = at;
        member += 1;
        stepsDone = 0;
        if (member < members.length) this.progress.start(members[member]!.migration.name);
      }
    };
    try {
      await query(this.client, text, onRow);
    } catch (error) {
      // After the last migration's marker: the COMMIT (a deferred constraint) — the runner blames the last migration too.
      const failing = Math.min(member, members.length - 1);
      if (!this.progress.current) this.progress.start(members[failing]!.migration.name);
      this.progress.failedIn(members[failing]!.migration.name);
      this.progress.failureDetail = describeFailure(this.#failingStatement(pieces, members, failing, stepsDone, error), error);
      throw error;
    }
  }

  /** The statement a batch failed on: by the error's position when it has one, else the failing migration's next step. */
  #failingStatement(pieces: Piece[], members: Step[], failing: number, stepsDone: number, error: unknown): { text: string; position?: number } {
    const position = Number((error as { position?: unknown }).position);
    if (position >= 1) {
      // Pieces are joined with 3 characters ("\n;\n").
      let start = 0;
      for (const piece of pieces) {
        const length = characters(piece.text);
        if (position <= start + length) return { text: piece.text, position: position - start };
        start += length + 3;
      }
    }
    const statements = members[failing]!.rendered!.statements;
    return { text: statements[Math.min(stepsDone, statements.length - 1)] ?? '' };
  }

  /** One statement on its own (outside a transaction): a failure names it as the runner does. */
  async #alone(text: string): Promise<void> {
    try {
      await this.client.query(text);
    } catch (error) {
      this.progress.failedIn(this.progress.current);
      const position = Number((error as { position?: unknown }).position);
      this.progress.failureDetail = describeFailure({ text, ...(position >= 1 && { position }) }, error);
      throw error;
    }
  }

  #frame(text: string): void {
    this.#piece({ text });
  }

  #piece(piece: Piece): void {
    this.#pieces.push(piece);
    this.#length += piece.text.length + 3;
  }

  #ledger(name: string): string {
    return ledgerStatement(name, 'up', this.settings.ledger.schema, this.settings.ledger.table);
  }

  #checksums(steps: readonly Step[]): string {
    return upsertChecksumsSql(
      this.#checksumTable!,
      steps.map((step) => ({ name: step.migration.name, sha256: step.sha256 })),
      quoteLiteral,
    );
  }

  /** The files as this run loaded them (the runner of a segment loads nothing again: the same modules, the same bytes). */
  #preloaded(): MigrationLoaderStrategy[] {
    const byPath = new Map(this.loaded.map((migration) => [migration.path, migration]));
    const extensions = [...new Set(this.loaded.map((migration) => migration.path.slice(migration.path.lastIndexOf('.'))))];
    return [
      {
        extensions,
        loader: async (filePaths: string[]) => filePaths.map((filePath) => ({ id: filePath, filePaths: [filePath], actions: byPath.get(filePath)!.actions })),
      },
    ];
  }
}

/**
 * The session as node-pg-migrate's runner sees it: its ledger rows get the name as a quoted literal (it splices the
 * name unescaped: an apostrophe breaks the statement, a crafted file name injects SQL). With `ownTransaction` (a runner
 * segment inside the run's single transaction) its own BEGIN / COMMIT / ROLLBACK are left out, so that the transaction
 * stays one; a `pgm.noTransaction()` migration's `COMMIT;` … `BEGIN;` still break it, as the runner means.
 */
export function runnerSession(client: Client, ledger: LedgerSettings, { ownTransaction }: { ownTransaction: boolean }): Client {
  const { schema, table } = ledger;
  const forms = (['up', 'down'] as const).map((direction) => {
    const [before, after] = runnerLedgerStatement('\u0000', direction, schema, table).split('\u0000') as [string, string];
    return { direction, before, after };
  });
  return {
    query: (config: unknown, values?: unknown) => {
      if (typeof config === 'string') {
        if (ownTransaction && (config === 'BEGIN' || config === 'COMMIT' || config === 'ROLLBACK')) return Promise.resolve({ rows: [], rowCount: 0 });
        const form = forms.find(({ before, after }) => config.startsWith(before) && config.endsWith(after) && config.length >= before.length + after.length);
        if (form) return client.query(ledgerStatement(config.slice(form.before.length, config.length - form.after.length), form.direction, schema, table));
      }
      return client.query(config as string, values as unknown[]);
    },
  } as unknown as Client;
}

/** A query with a callback for each row, as it arrives (the batch's marker rows). */
async function query(client: Client, text: string, onRow: (row: Record<string, unknown>, result?: { fields: { name: string }[] }) => void): Promise<void> {
  const { Query } = await import('pg');
  await new Promise<void>((resolve, reject) => {
    const submitted = new Query(text);
    submitted.on('row', onRow);
    submitted.on('error', reject);
    submitted.on('end', () => resolve());
    void client.query(submitted);
  });
}

/** node-pg-migrate's description of a failed statement (its db.query's "Error executing:"), which MigrationProgress keeps. */
function describeFailure({ text, position }: { text: string; position?: number }, error: unknown): string {
  const { message } = error as { message?: string };
  if (message && position !== undefined && position >= 1) {
    const index = unitIndex(text, position);
    const endLineWrapIndexOf = text.indexOf('\n', index);
    const endLineWrapPos = endLineWrapIndexOf >= 0 ? endLineWrapIndexOf : text.length;
    const stringStart = text.slice(0, endLineWrapPos);
    const stringEnd = text.slice(endLineWrapPos);
    const startLineWrapPos = stringStart.lastIndexOf('\n') + 1;
    const padding = ' '.repeat(Math.max(0, index - startLineWrapPos - 1));
    return `Error executing:\n${stringStart}\n${padding}^^^^${stringEnd}\n\n${message}\n`;
  }
  return `Error executing:\n${text}\n${String(error)}\n`;
}

/** Length in characters (code points), as PostgreSQL counts positions. */
function characters(text: string): number {
  let surrogates = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 0xdc00 && code <= 0xdfff) surrogates += 1;
  }
  return text.length - surrogates;
}

/** The UTF-16 index matching a 1-based character position (node-pg-migrate uses the position as an index). */
function unitIndex(text: string, position: number): number {
  if (characters(text) === text.length) return position;
  let seen = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0xdc00 || code > 0xdfff) seen += 1;
    if (seen === position) return index + 1;
  }
  return text.length;
}
