// SQL-level lint rules: checks over the statements one migration runs (its `up`), in order, on PostgreSQL's own parse
// trees. Pure functions: no files, no database. "Existing" below means not created earlier in the same migration.
import type { PgNode, SqlStatement } from './sql-parser';
import type { RuleMeta } from './types';

/** The rules of this module, with their defaults (listed in docs/lint.md). */
export const SQL_RULES: RuleMeta[] = [
  {
    id: 'create-index-not-concurrently',
    defaultSeverity: 'error',
    description: 'CREATE INDEX without CONCURRENTLY on an existing table (blocks writes while it builds)',
  },
  {
    id: 'concurrently-in-transaction',
    defaultSeverity: 'error',
    description: 'CREATE/DROP INDEX CONCURRENTLY or REINDEX CONCURRENTLY in a migration that runs in a transaction (fails)',
  },
  {
    id: 'add-column-not-null-without-default',
    defaultSeverity: 'error',
    description: 'ADD COLUMN … NOT NULL without a default on an existing table (fails once the table has rows)',
  },
  {
    id: 'add-column-volatile-default',
    defaultSeverity: 'warning',
    description: 'ADD COLUMN with a volatile default (random(), clock_timestamp(), gen_random_uuid(), serial, …) on an existing table (rewrites it)',
  },
  {
    id: 'constraint-without-not-valid',
    defaultSeverity: 'warning',
    description: 'FOREIGN KEY or CHECK added to an existing table without NOT VALID (scans it under lock)',
  },
  { id: 'alter-column-type', defaultSeverity: 'warning', description: 'ALTER COLUMN … TYPE on an existing table (may rewrite it and its indexes)' },
  { id: 'rename-column', defaultSeverity: 'warning', description: 'renaming a column of an existing table (breaks code still using the old name)' },
  { id: 'rename-table', defaultSeverity: 'warning', description: 'renaming an existing table (breaks code still using the old name)' },
  { id: 'drop-column', defaultSeverity: 'warning', description: 'dropping a column of an existing table (destructive)' },
  { id: 'drop-table', defaultSeverity: 'warning', description: 'dropping an existing table (destructive)' },
  { id: 'drop-database', defaultSeverity: 'warning', description: 'dropping a database (destructive)' },
  { id: 'set-not-null', defaultSeverity: 'warning', description: 'SET NOT NULL on an existing column (scans the table under an ACCESS EXCLUSIVE lock)' },
  { id: 'prefer-text', defaultSeverity: 'info', description: 'varchar(n) / char(n) where text (with a CHECK if needed) fits' },
  {
    id: 'missing-lock-timeout',
    defaultSeverity: 'off',
    description: 'a lock-taking statement on an existing table with no SET lock_timeout before it in the migration',
  },
  {
    id: 'irreversible-without-marker',
    defaultSeverity: 'error',
    description: 'no down, node-pg-migrate cannot reverse up automatically, and no `export const down = false`',
  },
  {
    id: 'transaction-control',
    defaultSeverity: 'error',
    description:
      'BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT or a prepared transaction in a migration (the runner owns the transaction: a later failure leaves part applied)',
  },
  { id: 'sql-syntax-error', defaultSeverity: 'error', description: 'a statement PostgreSQL’s parser rejects' },
  { id: 'render-error', defaultSeverity: 'error', description: 'the migration throws while node-pg-migrate builds its SQL' },
  {
    id: 'queries-database',
    defaultSeverity: 'info',
    description: 'the migration queries the database while building its SQL (pgm.db), so its SQL cannot be linted',
  },
];

/** Where a migration's statements come from: a `.sql` file, or node-pg-migrate's builder (TS/JS). */
export type MigrationKind = 'sql' | 'builder';

export interface SqlRuleContext {
  /** False when the migration calls `pgm.noTransaction()`. */
  usesTransaction: boolean;
  kind: MigrationKind;
}

/** A rule's finding about one statement. */
export interface SqlFinding {
  ruleId: string;
  message: string;
  hint: string;
  /** Index into the statements checked. */
  statement: number;
}

/**
 * Functions PostgreSQL marks VOLATILE that appear as column defaults: a default calling one is evaluated per row, so
 * ADD COLUMN rewrites the table (PostgreSQL 11+ stores a non-volatile default without a rewrite). `now()`,
 * `current_timestamp`, `statement_timestamp()`, `transaction_timestamp()` are STABLE: no rewrite.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'nextval',
  'txid_current',
  'gen_random_bytes',
  'setseed',
]);
/** Types whose implicit default is `nextval(…)`: volatile. */
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

interface RelationName {
  schema?: string;
  name: string;
}

/** What this migration created so far, to tell existing tables and columns from new ones. */
class MigrationState {
  readonly tables: RelationName[] = [];
  /** Columns added to existing tables by this migration: `table\0column`. */
  readonly addedColumns = new Set<string>();
  lockTimeout = false;

  isNew(relation: RelationName | undefined): boolean {
    return !!relation && this.tables.some((table) => table.name === relation.name && (!table.schema || !relation.schema || table.schema === relation.schema));
  }

  create(relation: RelationName | undefined): void {
    if (relation) this.tables.push(relation);
  }

  rename(relation: RelationName, to: string): void {
    for (const table of this.tables)
      if (table.name === relation.name && (!table.schema || !relation.schema || table.schema === relation.schema)) table.name = to;
  }
}

/** Runs every SQL rule over one migration's statements, in order. */
export function checkStatements(statements: readonly SqlStatement[], context: SqlRuleContext): SqlFinding[] {
  const state = new MigrationState();
  const findings: SqlFinding[] = [];
  statements.forEach((statement, index) => {
    const report = (ruleId: string, message: string, hint: string) => findings.push({ ruleId, message, hint, statement: index });
    checkStatement(statement, state, context, report);
  });
  return findings;
}

type Report = (ruleId: string, message: string, hint: string) => void;

function checkStatement({ kind, node }: SqlStatement, state: MigrationState, context: SqlRuleContext, report: Report): void {
  if (takesLock(kind, node, state) && !state.lockTimeout) {
    report(
      'missing-lock-timeout',
      `${describe(kind, node)} takes a lock with no lock_timeout set before it: it can queue behind a long query and block every query on the table`,
      context.kind === 'sql' ? "start the migration with SET lock_timeout = '5s'" : 'call pgm.sql("SET lock_timeout = \'5s\'") first in up',
    );
    state.lockTimeout = true; // once per migration
  }
  switch (kind) {
    case 'CreateStmt':
      state.create(relationOf(node.relation));
      for (const element of node.tableElts ?? []) if (element.ColumnDef) checkColumnType(element.ColumnDef, relationOf(node.relation), report);
      break;
    case 'CreateTableAsStmt':
      state.create(relationOf(node.into?.rel));
      break;
    case 'SelectStmt':
      if (node.intoClause) state.create(relationOf(node.intoClause.rel));
      break;
    case 'IndexStmt':
      checkIndex(node, state, context, report);
      break;
    case 'DropStmt':
      checkDrop(node, state, context, report);
      break;
    case 'ReindexStmt':
      if (context.usesTransaction && (node.params ?? []).some((param: PgNode) => param.DefElem?.defname === 'concurrently')) {
        report(
          'concurrently-in-transaction',
          'REINDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one',
          noTransactionHint(context),
        );
      }
      break;
    case 'AlterTableStmt':
      if (node.objtype === 'OBJECT_TABLE') checkAlterTable(node, state, context, report);
      break;
    case 'RenameStmt':
      checkRename(node, state, report);
      break;
    case 'DropdbStmt':
      report('drop-database', `destructive: DROP DATABASE ${quote(node.dbname)} deletes the whole database`, 'drop databases by hand, not in a migration');
      break;
    case 'TransactionStmt':
      checkTransactionControl(node, context, report);
      break;
    case 'VariableSetStmt':
      if (node.name === 'lock_timeout') state.lockTimeout = node.kind === 'VAR_SET_VALUE' && !isZero(node.args?.[0]);
      break;
  }
  if (kind === 'SelectStmt' && setsLockTimeout(node)) state.lockTimeout = true;
}

/** What each TransactionStmt kind is called in SQL. */
const TRANSACTION_STATEMENTS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/**
 * Transaction control in a migration: node-pg-migrate opens and ends the run's transaction itself. A COMMIT in the
 * middle commits what ran before it (earlier migrations too, in a single-transaction run); a later failure then
 * rolls back only what follows, and the database is left half-migrated while the run says it rolled back.
 */
function checkTransactionControl(node: PgNode, context: SqlRuleContext, report: Report): void {
  const statement = TRANSACTION_STATEMENTS[node.kind as string] ?? 'a transaction statement';
  if (context.usesTransaction) {
    report(
      'transaction-control',
      `${statement} in a migration: node-pg-migrate runs it in a transaction it opens and ends itself, so ${statement} here acts behind its back, and a later failure leaves part of the run applied`,
      `remove it: the migration (and by default the whole run) already runs in one transaction${context.kind === 'sql' ? '' : '; for work that cannot run in one, call pgm.noTransaction()'}`,
    );
    return;
  }
  report(
    'transaction-control',
    `${statement} in a migration that runs outside a transaction (pgm.noTransaction()): node-pg-migrate does not know of the transaction, and a failure inside it leaves part of the migration applied`,
    'remove it and let each statement commit on its own, or put the statements that belong together in a migration of their own that runs in a transaction',
  );
}

function checkIndex(node: PgNode, state: MigrationState, context: SqlRuleContext, report: Report): void {
  const table = relationOf(node.relation);
  const index = node.idxname ? `index ${quote(node.idxname)}` : 'an index';
  if (node.concurrent && context.usesTransaction) {
    report(
      'concurrently-in-transaction',
      `CREATE INDEX CONCURRENTLY (${index}) cannot run inside a transaction block, and this migration runs in one`,
      noTransactionHint(context),
    );
  }
  if (!node.concurrent && !state.isNew(table)) {
    report(
      'create-index-not-concurrently',
      `CREATE INDEX without CONCURRENTLY (${index}) on existing table ${show(table)} blocks writes to it while the index builds`,
      context.kind === 'sql'
        ? 'build it with CREATE INDEX CONCURRENTLY, in a TS/JS migration that calls pgm.noTransaction() (node-pg-migrate runs .sql files in a transaction)'
        : 'pass { concurrently: true } to pgm.createIndex and call pgm.noTransaction() in this migration',
    );
  }
}

function checkDrop(node: PgNode, state: MigrationState, context: SqlRuleContext, report: Report): void {
  if (node.removeType === 'OBJECT_INDEX' && node.concurrent && context.usesTransaction) {
    report(
      'concurrently-in-transaction',
      'DROP INDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one',
      noTransactionHint(context),
    );
  }
  if (node.removeType !== 'OBJECT_TABLE') return;
  for (const object of node.objects ?? []) {
    const table = relationOfNames(object.List?.items);
    if (table && !state.isNew(table)) {
      report(
        'drop-table',
        `destructive: DROP TABLE ${show(table)} deletes the table and its data`,
        'make sure nothing uses it any more and its data is backed up; then mark the intent with -- lint-ignore drop-table',
      );
    }
  }
}

function checkAlterTable(node: PgNode, state: MigrationState, context: SqlRuleContext, report: Report): void {
  const table = relationOf(node.relation);
  const existing = !state.isNew(table);
  for (const { AlterTableCmd: command } of (node.cmds ?? []) as PgNode[]) {
    if (!command) continue;
    const columnKey = `${table?.name}\0${command.name}`;
    switch (command.subtype) {
      case 'AT_AddColumn': {
        const column: PgNode | undefined = command.def?.ColumnDef;
        if (!column) break;
        checkColumnType(column, table, report);
        if (!existing) break;
        state.addedColumns.add(`${table?.name}\0${column.colname}`);
        checkAddedColumn(column, table, report);
        break;
      }
      case 'AT_AddConstraint': {
        const constraint: PgNode | undefined = command.def?.Constraint;
        if (existing && constraint && (constraint.contype === 'CONSTR_FOREIGN' || constraint.contype === 'CONSTR_CHECK') && !constraint.skip_validation) {
          const what = constraint.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
          const name = constraint.conname ? ` ${quote(constraint.conname)}` : '';
          report(
            'constraint-without-not-valid',
            `ADD CONSTRAINT${name} ${what} on existing table ${show(table)} without NOT VALID checks every row while holding a lock`,
            `add it with NOT VALID${context.kind === 'builder' ? " (pgm.sql('ALTER TABLE … ADD CONSTRAINT … NOT VALID'))" : ''}, then VALIDATE CONSTRAINT in a later statement or migration`,
          );
        }
        break;
      }
      case 'AT_AlterColumnType':
        checkColumnType({ ...command.def?.ColumnDef, colname: command.name }, table, report);
        if (existing && !state.addedColumns.has(columnKey)) {
          report(
            'alter-column-type',
            `ALTER COLUMN ${quote(command.name)} TYPE ${shownType(command.def?.ColumnDef?.typeName)} on existing table ${show(table)} may rewrite the table and its indexes under an ACCESS EXCLUSIVE lock`,
            'add a new column, backfill it in batches and switch over; or make sure the change needs no rewrite (e.g. varchar(n) to text)',
          );
        }
        break;
      case 'AT_SetNotNull':
        if (existing && !state.addedColumns.has(columnKey)) {
          report(
            'set-not-null',
            `SET NOT NULL on existing column ${quote(command.name)} of ${show(table)} scans the whole table under an ACCESS EXCLUSIVE lock`,
            `add CHECK (${command.name} IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ then skips the scan)`,
          );
        }
        break;
      case 'AT_DropColumn':
        if (existing && !state.addedColumns.has(columnKey)) {
          report(
            'drop-column',
            `destructive: DROP COLUMN ${quote(command.name)} of ${show(table)} deletes its data`,
            'make sure no code reads the column any more and its data is backed up; then mark the intent with -- lint-ignore drop-column',
          );
        }
        break;
    }
  }
}

function checkAddedColumn(column: PgNode, table: RelationName | undefined, report: Report): void {
  const constraints: PgNode[] = (column.constraints ?? []).map((constraint: PgNode) => constraint.Constraint).filter(Boolean);
  const has = (type: string) => constraints.some((constraint) => constraint.contype === type);
  const defaultExpression = constraints.find((constraint) => constraint.contype === 'CONSTR_DEFAULT')?.raw_expr;
  const type = typeName(column.typeName);
  const serial = SERIAL_TYPES.has(type);
  const name = quote(column.colname);
  if ((has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY')) && !defaultExpression && !serial && !has('CONSTR_IDENTITY') && !has('CONSTR_GENERATED')) {
    report(
      'add-column-not-null-without-default',
      `ADD COLUMN ${name} NOT NULL without a default on existing table ${show(table)} fails as soon as the table has a row`,
      'give it a constant default, or add it nullable, backfill it, then SET NOT NULL',
    );
  }
  const volatile = serial ? `the ${type} type (nextval())` : defaultExpression ? volatileCall(defaultExpression) : undefined;
  if (volatile) {
    report(
      'add-column-volatile-default',
      `ADD COLUMN ${name} with volatile default ${volatile} rewrites existing table ${show(table)} under an ACCESS EXCLUSIVE lock`,
      'add the column without a default (or with a constant one), then set the default and backfill existing rows in batches',
    );
  }
  for (const constraint of constraints) {
    if (constraint.contype !== 'CONSTR_FOREIGN' && constraint.contype !== 'CONSTR_CHECK') continue;
    const what = constraint.contype === 'CONSTR_FOREIGN' ? 'REFERENCES' : 'CHECK';
    report(
      'constraint-without-not-valid',
      `ADD COLUMN ${name} with ${what} on existing table ${show(table)} checks every row while holding a lock (a column constraint cannot be NOT VALID)`,
      'add the column first, then the constraint with NOT VALID, then VALIDATE CONSTRAINT',
    );
  }
}

function checkColumnType(column: PgNode, table: RelationName | undefined, report: Report): void {
  const type = typeName(column.typeName);
  const length = (column.typeName?.typmods ?? [])[0]?.A_Const;
  // An explicit length only: plain `char` is char(1) implicitly (the parser marks it with location -1).
  if ((type === 'varchar' || type === 'bpchar') && length && length.location !== -1) {
    const shown = `${type === 'varchar' ? 'varchar' : 'char'}(${length.ival?.ival ?? 0})`;
    report(
      'prefer-text',
      `column ${quote(column.colname)} of ${show(table)} is ${shown}: changing the limit later needs a table rewrite`,
      'use text, with a CHECK (char_length(column) <= n) if the limit matters',
    );
  }
}

function checkRename(node: PgNode, state: MigrationState, report: Report): void {
  const table = relationOf(node.relation);
  if (node.renameType === 'OBJECT_COLUMN' && node.relationType === 'OBJECT_TABLE' && !state.isNew(table)) {
    report(
      'rename-column',
      `renaming column ${quote(node.subname)} of ${show(table)} to ${quote(node.newname)} breaks code that still uses the old name`,
      'deploy code that works with both names first, or add the new column and move over in steps (expand and contract)',
    );
  }
  if (node.renameType === 'OBJECT_TABLE' && table) {
    if (state.isNew(table)) state.rename(table, node.newname);
    else {
      report(
        'rename-table',
        `renaming table ${show(table)} to ${quote(node.newname)} breaks code that still uses the old name`,
        'deploy code that works with both names first (e.g. a view with the old name during the switch)',
      );
    }
  }
}

/** Statements that take a table lock other sessions queue behind (only on tables that existed before). */
function takesLock(kind: string, node: PgNode, state: MigrationState): boolean {
  switch (kind) {
    case 'AlterTableStmt':
    case 'IndexStmt':
    case 'CreateTrigStmt':
    case 'ClusterStmt':
    case 'ReindexStmt':
      return !!node.relation && !state.isNew(relationOf(node.relation));
    case 'RenameStmt':
      return !!node.relation && !state.isNew(relationOf(node.relation));
    case 'DropStmt':
      return (
        ['OBJECT_TABLE', 'OBJECT_INDEX', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_TRIGGER'].includes(node.removeType) &&
        !(node.removeType === 'OBJECT_TABLE' && (node.objects ?? []).every((object: PgNode) => state.isNew(relationOfNames(object.List?.items))))
      );
    case 'TruncateStmt':
    case 'LockStmt':
      return true;
    default:
      return false;
  }
}

function describe(kind: string, node: PgNode): string {
  const table = relationOf(node.relation);
  const on = table ? ` on ${show(table)}` : '';
  const names: Record<string, string> = {
    AlterTableStmt: 'ALTER TABLE',
    IndexStmt: 'CREATE INDEX',
    CreateTrigStmt: 'CREATE TRIGGER',
    ClusterStmt: 'CLUSTER',
    ReindexStmt: 'REINDEX',
    RenameStmt: 'a RENAME',
    DropStmt: 'DROP',
    TruncateStmt: 'TRUNCATE',
    LockStmt: 'LOCK',
  };
  return `${names[kind] ?? kind}${on}`;
}

function noTransactionHint(context: SqlRuleContext): string {
  return context.kind === 'sql'
    ? 'move it to a TS/JS migration that calls pgm.noTransaction() (node-pg-migrate runs .sql files in a transaction)'
    : 'call pgm.noTransaction() in this migration, and keep statements that must be atomic in another migration';
}

/** The first volatile function called anywhere in an expression, as `name()`. */
function volatileCall(expression: unknown): string | undefined {
  if (Array.isArray(expression)) {
    for (const item of expression) {
      const found = volatileCall(item);
      if (found) return found;
    }
    return undefined;
  }
  if (!expression || typeof expression !== 'object') return undefined;
  const call = (expression as PgNode).FuncCall;
  if (call) {
    const names: PgNode[] = call.funcname ?? [];
    const name = String(names[names.length - 1]?.String?.sval ?? '').toLowerCase();
    if (VOLATILE_FUNCTIONS.has(name)) return `${name}()`;
  }
  for (const value of Object.values(expression)) {
    const found = volatileCall(value);
    if (found) return found;
  }
  return undefined;
}

function setsLockTimeout(node: PgNode): boolean {
  return (node.targetList ?? []).some((target: PgNode) => {
    const call = target.ResTarget?.val?.FuncCall;
    const name = call?.funcname?.[call.funcname.length - 1]?.String?.sval;
    return name === 'set_config' && call.args?.[0]?.A_Const?.sval?.sval === 'lock_timeout' && !isZero(call.args?.[1]);
  });
}

/** `0` or `'0'` (a disabled timeout); absent fields are zero in libpg-query's JSON. */
function isZero(argument: PgNode | undefined): boolean {
  const constant = argument?.A_Const;
  if (!constant) return false;
  if (constant.ival) return !constant.ival.ival;
  if (constant.sval) return /^\s*0+\s*(ms|s|min)?\s*$/i.test(constant.sval.sval ?? '');
  return false;
}

function relationOf(range: PgNode | undefined): RelationName | undefined {
  return range?.relname ? { schema: range.schemaname, name: range.relname } : undefined;
}

function relationOfNames(items: PgNode[] | undefined): RelationName | undefined {
  const names = (items ?? []).map((item) => item.String?.sval).filter((name): name is string => typeof name === 'string');
  const name = names[names.length - 1];
  return name ? { schema: names.length > 1 ? names[names.length - 2] : undefined, name } : undefined;
}

/** PostgreSQL's internal names of common types, as people write them. */
const TYPE_NAMES: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  bpchar: 'char',
  varchar: 'varchar',
  timestamptz: 'timestamptz',
};

/** The type's name without its schema, as the parser has it (`int8`, `varchar`, `serial`). */
function typeName(type: PgNode | undefined): string {
  const names: PgNode[] = type?.names ?? [];
  return String(names[names.length - 1]?.String?.sval ?? '');
}

/** The type as written: `bigint`, `varchar(20)`, `numeric(10, 2)`. */
function shownType(type: PgNode | undefined): string {
  const name = typeName(type);
  const modifiers = (type?.typmods ?? []).map((modifier: PgNode) => modifier.A_Const?.ival?.ival ?? 0);
  return `${TYPE_NAMES[name] ?? name}${modifiers.length > 0 ? `(${modifiers.join(', ')})` : ''}${type?.arrayBounds ? '[]' : ''}`;
}

function show(relation: RelationName | undefined): string {
  if (!relation) return 'the table';
  return relation.schema ? `"${relation.schema}"."${relation.name}"` : `"${relation.name}"`;
}

function quote(name: unknown): string {
  return `"${String(name ?? '')}"`;
}
