import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { rollbackFileFor, sqlLoaderStrategies } from './sql-rollbacks';
import type { Direction } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { DEFAULT_IGNORE_PATTERN, isNotAMigrationError, notAMigrationHint } from './migration-folder';

// Types only: node-pg-migrate is ESM-only and costs ~100 ms to import, so its modules are loaded lazily below.
type MigrationBuilderActions = import('node-pg-migrate/sqlMigration').MigrationBuilderActions;
type MigrationAction = import('node-pg-migrate/migration').MigrationAction;
type MigrationBuilder = import('node-pg-migrate/migrationBuilder').MigrationBuilder;
type RunnerOption = import('node-pg-migrate/runner').RunnerOption;
type DBConnection = import('node-pg-migrate/db').DBConnection;

/** node-pg-migrate's ledger table when none is configured. */
const DEFAULT_MIGRATIONS_TABLE = 'pgmigrations';

/** A migration file loaded the way node-pg-migrate's runner loads it, not yet rendered. */
export interface LoadedMigration {
  /** File name without extension: the name node-pg-migrate records in its ledger. */
  name: string;
  /** Absolute path of the file. */
  path: string;
  /** What the module exports (`up`, `down`, `shorthands`), or a `.sql` file's sections as actions. */
  actions: MigrationBuilderActions;
  /** Column shorthands in effect for this migration: those exported by it and by every migration before it. */
  shorthands: Record<string, unknown>;
  /** The file's bytes, read right before the loader read it: what its checksum is taken of (loadMigrationFiles sets it). */
  bytes?: Buffer;
  /** A `.sql` file read by loadMigrationFiles: its up and down only call `pgm.sql(text)`. */
  sqlFile?: boolean;
}

/** The SQL one migration runs in one direction, built by node-pg-migrate's own MigrationBuilder. */
export interface RenderedMigration {
  name: string;
  path: string;
  direction: Direction;
  /** The migration's own statements, in the order they would run (without transaction framing or the ledger row). */
  statements: string[];
  /** False when the migration calls `pgm.noTransaction()`: it then runs outside any transaction. */
  usesTransaction: boolean;
  /** True when `down` was derived from `up` by node-pg-migrate's reverse mode (the migration exports no `down`). */
  reversed: boolean;
  /** The statement node-pg-migrate runs after it to record it in (up) or remove it from (down) its ledger. */
  ledgerStatement: string;
}

/** Why a migration could not be rendered; lets callers (the linter) map a failure to a rule. */
export type RenderFailure = 'load' | 'no-action' | 'irreversible' | 'disabled' | 'queries-database' | 'build' | 'missing';

/** A TaskError about one migration file: which file, and why it could not be rendered. */
export class MigrationRenderError extends TaskError {
  constructor(
    message: string,
    readonly reason: RenderFailure,
    /** Name of the migration (file name without extension). */
    readonly migration: string,
    /** Absolute path of the file (the folder for `missing`). */
    readonly file: string,
    options: { hint: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface LoadMigrationsOptions {
  /** Folder of migrations; relative paths are resolved from the current directory. */
  dir: string;
  /** File paths in messages are shown relative to this folder. Default: the current directory. */
  projectDir?: string;
  /** Receives node-pg-migrate's warnings while it orders file names. Default: none. */
  logger?: Logger;
  /** --ignore-pattern: files of `dir` that are not migrations. Default: DEFAULT_IGNORE_PATTERN. */
  ignorePattern?: string;
}

export interface RenderMigrationsOptions extends LoadMigrationsOptions {
  direction: Direction;
  /**
   * The migrations to render (file names without extension), rendered in the order given: for `down` that is the
   * order they are rolled back in, latest first. Default: every migration in the folder, in folder order.
   */
  names?: readonly string[];
  /** node-pg-migrate's ledger table, for the statement that records each migration. Default: `pgmigrations`. */
  migrationsTable?: string;
}

/**
 * Renders migrations to the SQL node-pg-migrate would run for them, without a database: every file of the folder is
 * loaded as the runner loads it (its bundled jiti for .ts/.js, its .sql section parser), and each requested migration
 * is built with node-pg-migrate's MigrationBuilder (reverse mode when `down` is absent, `pgm.noTransaction()`,
 * shorthands of earlier migrations). A migration that needs the database to build its SQL (`pgm.db.query`) fails
 * with a MigrationRenderError, as does a file that fails to load (with the loader's own message).
 * @example const [users] = await renderMigrations({ dir: 'migrations', direction: 'down', names: ['1732500002000_create_users'] })
 *          users.statements // ['DROP TRIGGER "users_set_updated_at" ON "users";', 'DROP TABLE "users";']
 */
export async function renderMigrations({
  direction,
  names,
  migrationsTable = DEFAULT_MIGRATIONS_TABLE,
  ...load
}: RenderMigrationsOptions): Promise<RenderedMigration[]> {
  const loaded = await loadMigrationFiles(load);
  const byName = new Map(loaded.map((migration) => [migration.name, migration]));
  const selected = (names ?? loaded.map((migration) => migration.name)).map((name) => {
    const migration = byName.get(name);
    if (!migration) throw missingMigration(name, load);
    return migration;
  });
  const rendered: RenderedMigration[] = [];
  for (const migration of selected)
    rendered.push(await renderMigration(migration, { direction, migrationsTable, projectDir: load.projectDir, logger: load.logger }));
  return rendered;
}

/**
 * Loads every migration file of `dir` in node-pg-migrate's order, as its runner does (`loadMigrations`), one file at
 * a time so that a file that fails to load is named. Nothing is rendered yet.
 */
export async function loadMigrationFiles({
  dir,
  projectDir = process.cwd(),
  logger = SILENT,
  ignorePattern = DEFAULT_IGNORE_PATTERN,
}: LoadMigrationsOptions): Promise<LoadedMigration[]> {
  const [{ compareMigrationFileNames }, { getActions }] = await Promise.all([
    import('node-pg-migrate/utils/comparators'),
    import('node-pg-migrate/sqlMigration'),
  ]);
  // node-pg-migrate's loader (jiti: ~0.2 s to import) only for files that are not .sql.
  let loader: Promise<[typeof import('node-pg-migrate/migrationLoader'), Awaited<ReturnType<typeof sqlLoaderStrategies>>]> | undefined;
  let files: string[];
  try {
    // Its own complaint would only repeat the error thrown below.
    files = await migrationFilePaths(path.resolve(dir), ignorePattern, compareMigrationFileNames);
  } catch (error) {
    // A file without a numeric prefix: node-pg-migrate cannot even order the folder.
    const folder = shownPath(path.resolve(dir), projectDir);
    throw new MigrationRenderError(`could not list the migrations in ${folder}/: ${loaderMessage(error)}`, 'load', '', path.resolve(dir), {
      hint: notAMigrationHint(folder),
      cause: error,
    });
  }
  const loaded: LoadedMigration[] = [];
  let shorthands: Record<string, unknown> = {};
  for (const file of files) {
    let actions: MigrationBuilderActions;
    let bytes: Buffer;
    try {
      // Read synchronously (a few µs for a small file) right before the loader reads it: the checksum is of what ran,
      // not of what the file holds after the run.
      bytes = readFileSync(file);
      if (path.extname(file).toLowerCase() === '.sql') {
        // sqlLoaderStrategies' reading, of the bytes just read (no second read, no thread-pool hop per file).
        actions = getActions(bytes.toString('utf8'));
        const rollback = actions.down === false ? rollbackFileFor(file) : undefined;
        if (rollback) {
          const downSql = readFileSync(rollback, 'utf8');
          actions = { ...actions, down: (pgm) => pgm.sql(downSql) };
        }
      } else {
        loader ??= Promise.all([import('node-pg-migrate/migrationLoader'), sqlLoaderStrategies()]);
        const [{ loadMigrationUnits }, migrationLoaderStrategies] = await loader;
        const [unit] = await loadMigrationUnits({ logger, migrationLoaderStrategies }, [file]);
        actions = unit!.actions;
      }
    } catch (error) {
      const shown = shownPath(file, projectDir);
      throw new MigrationRenderError(`could not load migration ${shown}: ${loaderMessage(error)}`, 'load', migrationName(file), file, {
        hint: isNotAMigrationError(loaderMessage(error))
          ? notAMigrationHint(shownPath(path.dirname(file), projectDir))
          : `fix ${shown} (a syntax error, or an import that fails or throws), then run the command again`,
        cause: error,
      });
    }
    // Exactly the runner's rule: a migration sees the shorthands of every migration up to and including itself.
    shorthands = { ...shorthands, ...actions.shorthands };
    const sqlFile = path.extname(file).toLowerCase() === '.sql';
    loaded.push({ name: migrationName(file), path: file, actions, shorthands: { ...shorthands }, bytes, ...(sqlFile && { sqlFile }) });
  }
  return loaded;
}

export interface RenderMigrationOptions {
  direction: Direction;
  /** Default: `pgmigrations`. */
  migrationsTable?: string;
  /** The ledger's schema. Default: node-pg-migrate's (`public`). */
  migrationsSchema?: string;
  /** File paths in messages are shown relative to this folder. Default: the current directory. */
  projectDir?: string;
  /** Receives warnings node-pg-migrate's operations write while building SQL. Default: none. */
  logger?: Logger;
}

/**
 * Builds one loaded migration's SQL for a direction with node-pg-migrate's own Migration and MigrationBuilder, the way
 * `Migration.apply` does, but against a database stub: nothing is sent anywhere. Safe to call for both directions of
 * the same loaded migration.
 */
export async function renderMigration(
  loaded: LoadedMigration,
  { direction, migrationsTable = DEFAULT_MIGRATIONS_TABLE, migrationsSchema, projectDir = process.cwd(), logger = SILENT }: RenderMigrationOptions,
): Promise<RenderedMigration> {
  const { name, path: file } = loaded;
  const sqlFile = loaded.sqlFile ?? path.extname(file).toLowerCase() === '.sql';
  if (sqlFile && direction === 'up' && typeof loaded.actions.up === 'function') {
    // A .sql file's up is `pgm.sql(section)`: node-pg-migrate's own sql operation, without a MigrationBuilder of ~150
    // bound operations per migration (a thousand migrations: ~0.1 s). An up that does anything else is built below.
    const sql = await pgmSql();
    const statements: string[] = [];
    const recorded = await runAction(
      loaded.actions.up as MigrationAction,
      {
        sql: (text: string, args?: object) => void statements.push(sql(text, args as never)),
      } as never,
    ).then(
      () => true,
      () => false,
    );
    if (recorded) {
      return {
        name,
        path: file,
        direction,
        statements,
        usesTransaction: true,
        reversed: false,
        ledgerStatement: ledgerStatement(name, direction, migrationsSchema ?? 'public', migrationsTable),
      };
    }
  }
  const { Migration, MigrationBuilder } = await builderModules();
  const shown = shownPath(file, projectDir);
  const database = new DatabaseStub(name);
  const options = { dir: path.dirname(file), migrationsTable, migrationsSchema, direction, singleTransaction: true } as unknown as RunnerOption;
  // A fresh Migration each time: node-pg-migrate's _getAction makes `down` the same function as `up` when it is
  // missing, which would turn a later `up` of the same object into reverse mode.
  const quiet = { debug: undefined, info: () => undefined, warn: (message: string) => logger.warn(message), error: (message: string) => logger.error(message) };
  const migration = new Migration(database, file, { up: loaded.actions.up, down: loaded.actions.down }, options, loaded.shorthands as never, quiet);

  let action: MigrationAction;
  try {
    action = migration._getAction(direction);
  } catch (error) {
    throw direction === 'down' && migration.down === false
      ? new MigrationRenderError(`migration ${name} cannot be rolled back: it exports down = false (irreversible)`, 'disabled', name, file, {
          hint: `roll back fewer migrations (--count), or give ${shown} a down that reverses its up`,
          cause: error,
        })
      : new MigrationRenderError(`migration ${name} has no ${direction} function to run (${shown} exports no \`${direction}\`)`, 'no-action', name, file, {
          hint: `export \`${direction}\` from ${shown} (node-pg-migrate calls it with a MigrationBuilder)`,
          cause: error,
        });
  }
  const reversed = migration.down === migration.up;
  const pgm: MigrationBuilder = new MigrationBuilder(database, loaded.shorthands as never, false, {
    ...quiet,
    info: (message: string) => logger.info(message),
  });
  const calls = reversed ? recordCalls(pgm.enableReverseMode()) : undefined;

  let failure: unknown;
  try {
    await runAction(action, pgm);
  } catch (error) {
    if (!database.used) throw buildFailure(error, { name, file, shown, direction, reversed, operation: calls?.last });
    failure = error;
  }
  if (database.used) throw database.error(shown, file, failure);

  return {
    name,
    path: file,
    direction,
    statements: [...pgm.getSqlSteps()],
    usesTransaction: pgm.isUsingTransaction(),
    reversed,
    ledgerStatement: ledgerStatement(name, direction, migrationsSchema ?? 'public', migrationsTable),
  };
}

/**
 * The statement that records a migration in node-pg-migrate's ledger (up) or removes it (down): node-pg-migrate's own
 * (`Migration._getMarkAsRun`: the same columns, `run_on` = NOW() of the transaction), but with the name as a quoted
 * literal — node-pg-migrate splices it unescaped, so an apostrophe in a file name breaks the statement or injects SQL.
 * @example ledgerStatement("1_fix_user's_email", 'up', 'public', 'pgmigrations')
 *          // INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1_fix_user''s_email', NOW());
 */
export function ledgerStatement(name: string, direction: Direction, schema: string, table: string): string {
  const ledger = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  return direction === 'up'
    ? `INSERT INTO ${ledger} (name, run_on) VALUES (${quoteLiteral(name)}, NOW());`
    : `DELETE FROM ${ledger} WHERE name=${quoteLiteral(name)};`;
}

/** node-pg-migrate's own ledger statement for a name, unescaped (to recognise it; never to run it with an unsafe name). */
export function runnerLedgerStatement(name: string, direction: Direction, schema: string, table: string): string {
  return direction === 'up'
    ? `INSERT INTO "${schema}"."${table}" (name, run_on) VALUES ('${name}', NOW());`
    : `DELETE FROM "${schema}"."${table}" WHERE name='${name}';`;
}

/** A string literal that reads the same whatever standard_conforming_strings says (pg's escapeLiteral). */
export function quoteLiteral(value: string): string {
  const quoted = `'${value.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`;
  return value.includes('\\') ? ` E${quoted}` : quoted;
}

function quoteIdentifier(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

let builder: Promise<[typeof import('node-pg-migrate/migration'), typeof import('node-pg-migrate/migrationBuilder')]> | undefined;

/** node-pg-migrate's Migration and MigrationBuilder, imported once: an import() per call costs ~0.2 ms (a thousand migrations: 0.2 s). */
async function builderModules() {
  builder ??= Promise.all([import('node-pg-migrate/migration'), import('node-pg-migrate/migrationBuilder')]);
  const [{ Migration }, { MigrationBuilder }] = await builder;
  return { Migration, MigrationBuilder };
}

let sqlOperation: Promise<(text: string, args?: Record<string, unknown>) => string> | undefined;

/** `pgm.sql` as MigrationBuilder builds it (with the options it gives its operations: no decamelize, the runner's default). */
function pgmSql(): NonNullable<typeof sqlOperation> {
  sqlOperation ??= Promise.all([import('node-pg-migrate/operations/sql'), import('node-pg-migrate/utils/createSchemalize')]).then(
    ([{ sql }, { createSchemalize }]) =>
      sql({ literal: createSchemalize({ shouldDecamelize: false, shouldQuote: true }) } as never) as (text: string) => string,
  );
  return sqlOperation;
}

/**
 * node-pg-migrate's getMigrationFilePaths for a folder (no glob): the files (and links) whose names do not match the
 * ignore pattern, in its order. Here so that listing a folder of .sql files does not import its Migration module
 * (with every builder operation and glob).
 */
async function migrationFilePaths(
  dir: string,
  ignorePattern: string,
  compare: typeof import('node-pg-migrate/utils/comparators').compareMigrationFileNames,
): Promise<string[]> {
  const ignore = new RegExp(ignorePattern.length > 0 ? `^${ignorePattern}$` : '^\\..*');
  return (await readdir(`${dir}/`, { withFileTypes: true }))
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && !ignore.test(entry.name))
    .sort((a, b) => compare(a.name, b.name, SILENT))
    .map((entry) => path.resolve(dir, entry.name));
}

/** Calls an up/down function as node-pg-migrate's Migration._apply does: `(pgm)` or, with two parameters, `(pgm, done)`. */
async function runAction(action: MigrationAction, pgm: MigrationBuilder): Promise<void> {
  if (action.length === 2) {
    await new Promise<void>((resolve, reject) => {
      const result: unknown = action(pgm, resolve);
      if (result instanceof Promise) result.then(undefined, reject);
    });
  } else {
    await action(pgm);
  }
}

/**
 * Remembers the last builder operation a migration called (`pgm.sql`, …): node-pg-migrate's reverse-mode error does
 * not name it in the bundled build (it says `pgm.()`).
 */
function recordCalls(pgm: MigrationBuilder): { last?: string } {
  const calls: { last?: string } = {};
  const wrap = (target: Record<string, unknown>, prefix: string) => {
    for (const key of Object.keys(target)) {
      const operation = target[key];
      if (typeof operation !== 'function' || key.startsWith('_')) continue;
      target[key] = (...args: unknown[]) => {
        calls.last = `${prefix}${key}`;
        return (operation as (...args: unknown[]) => unknown)(...args);
      };
    }
  };
  wrap(pgm as unknown as Record<string, unknown>, '');
  wrap(pgm.db as unknown as Record<string, unknown>, 'db.');
  return calls;
}

interface FailureDetails {
  name: string;
  file: string;
  shown: string;
  direction: Direction;
  reversed: boolean;
  /** The builder operation called last (reverse mode only). */
  operation?: string;
}

function buildFailure(error: unknown, { name, file, shown, direction, reversed, operation }: FailureDetails): MigrationRenderError {
  const message = messageOf(error);
  if (reversed && message.startsWith('Impossible to automatically infer down migration')) {
    const what = operation ? `its pgm.${operation}() call` : 'its up';
    return new MigrationRenderError(`migration ${name} has no down, and node-pg-migrate cannot reverse ${what} automatically`, 'irreversible', name, file, {
      hint: `write a down in ${shown} (or export \`down = false\` to mark it irreversible)`,
      cause: error,
    });
  }
  return new MigrationRenderError(`migration ${name} failed while building its SQL (${direction}): ${message}`, 'build', name, file, {
    hint: `fix ${shown}, then run the command again`,
    cause: error,
  });
}

/**
 * Stands in for the database connection while SQL is built: any query through `pgm.db` rejects with a clear error.
 * Whether the migration awaited and caught it or not, the attempt is remembered and the render fails.
 */
class DatabaseStub {
  used?: 'query' | 'select';

  constructor(private readonly migrationName: string) {}

  readonly query = (() => this.#refuse('query')) as DBConnection['query'];
  readonly select = (() => this.#refuse('select')) as DBConnection['select'];
  readonly column = (() => this.#refuse('select')) as DBConnection['column'];
  readonly createConnection = async () => undefined;
  readonly connected = () => false;
  readonly addBeforeCloseListener = () => 0;
  readonly close = async () => undefined;

  error(shown: string, file: string, cause?: unknown): MigrationRenderError {
    const method = this.used ?? 'query';
    return new MigrationRenderError(
      `migration ${this.migrationName} queries the database while building its SQL (pgm.db.${method}): it cannot be dry-run`,
      'queries-database',
      this.migrationName,
      file,
      {
        hint: `apply it to a throw-away database instead (\`gulp migrate:local\`), or build ${shown}'s SQL without pgm.db (e.g. a DO block in pgm.sql)`,
        cause,
      },
    );
  }

  #refuse(method: 'query' | 'select'): Promise<never> {
    this.used ??= method;
    const refused = Promise.reject(new Error(`pgm.db.${method} is not available while rendering migration ${this.migrationName} without a database`));
    // Marked as handled: a migration that forgets to await its query must not crash the process; the render fails anyway.
    refused.catch(() => undefined);
    return refused;
  }
}

function missingMigration(name: string, { dir, projectDir = process.cwd() }: LoadMigrationsOptions): MigrationRenderError {
  const folder = shownPath(path.resolve(dir), projectDir);
  return new MigrationRenderError(`migration ${name} is not in ${folder}/`, 'missing', name, path.resolve(dir), {
    hint: `restore its file in ${folder}/ (from version control), then run the command again`,
  });
}

/** The loader's message with jiti's padding trimmed: `ParseError: Unexpected token … /abs/path.ts:1:66`. */
export function loaderMessage(error: unknown): string {
  return messageOf(error)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

/** node-pg-migrate's name for a file: its base name without extension. */
function migrationName(file: string): string {
  return path.basename(file, path.extname(file));
}

function shownPath(file: string, projectDir: string): string {
  const relative = path.relative(projectDir, file);
  return relative && !relative.startsWith('..') ? relative : file;
}

const SILENT: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Whether SQL text ends outside any string, quoted identifier, dollar quote or block comment, as PostgreSQL's lexer
 * reads it (standard_conforming_strings on): only then can it be sent together with other statements and mean what it
 * means alone. A statement left open (`SELECT 'abc`, `AS $$ BEGIN`) fails on its own, but joined with the next ones
 * its quote could close in them. A line comment at the end is fine (the next statement starts on a new line).
 * @example isLexicallyClosed("SELECT 'it''s'") // true
 *          isLexicallyClosed('CREATE FUNCTION f() RETURNS void AS $$ BEGIN') // false
 */
export function isLexicallyClosed(sql: string): boolean {
  const identifierChar = /[\p{L}\p{N}_$]/u;
  const special = /[-/'"$]/g;
  let index = 0;
  while (index < sql.length) {
    special.lastIndex = index;
    const found = special.exec(sql);
    if (!found) return true;
    index = found.index;
    const char = sql[index]!;
    const next = sql[index + 1];
    if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', index);
      if (end === -1) return true;
      index = end + 1;
    } else if (char === '/' && next === '*') {
      let depth = 1;
      index += 2;
      while (depth > 0) {
        if (index >= sql.length) return false;
        const opens = sql.startsWith('/*', index);
        const closes = !opens && sql.startsWith('*/', index);
        if (opens) depth += 1;
        if (closes) depth -= 1;
        index += opens || closes ? 2 : 1;
      }
    } else if (char === "'" || char === '"') {
      const escapes = char === "'" && /[eE]/.test(sql[index - 1] ?? '') && !identifierChar.test(sql[index - 2] ?? '');
      index += 1;
      for (;;) {
        if (index >= sql.length) return false;
        if (escapes && sql[index] === '\\') index += 2;
        else if (sql[index] === char && sql[index + 1] === char) index += 2;
        else if (sql[index] === char) break;
        else index += 1;
      }
      index += 1;
    } else if (char === '$' && !identifierChar.test(sql[index - 1] ?? '')) {
      const tag = /^\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/u.exec(sql.slice(index, index + 64))?.[0];
      if (!tag) {
        index += 1;
        continue;
      }
      const end = sql.indexOf(tag, index + tag.length);
      if (end === -1) return false;
      index = end + tag.length;
    } else {
      index += 1;
    }
  }
  return true;
}
