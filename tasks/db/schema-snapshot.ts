import type { Client } from 'pg';
import { withClient } from './pg-client';

/**
 * A database schema read from the catalog, as plain sorted data: two snapshots of the same schema are deep-equal
 * (and `JSON.stringify`-equal), whatever the OIDs. Every map is keyed by a stable name and inserted in sorted order.
 * Objects that belong to an extension are represented by the extension alone; ignored tables (the migration ledger)
 * and everything on them are left out.
 */
export interface SchemaSnapshot {
  schemas: Record<string, SchemaEntry>;
  extensions: Record<string, ExtensionEntry>;
  /** Tables, partitioned and foreign tables, views and materialized views, by relation name. */
  relations: Record<string, RelationEntry>;
  /** Keyed `table.column`. */
  columns: Record<string, ColumnEntry>;
  /** Table constraints, keyed `name on table`. NOT NULL is a column property, not listed here. */
  constraints: Record<string, ConstraintEntry>;
  /** Indexes, keyed `name on table`; those that back a primary key, unique or exclusion constraint are the constraint. */
  indexes: Record<string, IndexEntry>;
  triggers: Record<string, TriggerEntry>;
  policies: Record<string, PolicyEntry>;
  /** Sequences, except those of identity columns (a column property). */
  sequences: Record<string, SequenceEntry>;
  /** Enums, domains, composite, range and base types. */
  types: Record<string, TypeEntry>;
  /** Functions, procedures and aggregates, keyed `name(identity arguments)`. */
  functions: Record<string, FunctionEntry>;
}

export type SnapshotCategory = keyof SchemaSnapshot;

/** A schema is compared by name only. */
export type SchemaEntry = Record<string, never>;
export interface ExtensionEntry {
  schema: string;
  version: string;
}
export interface RelationEntry {
  kind: 'table' | 'partitioned table' | 'foreign table' | 'view' | 'materialized view';
  /** Column names in table order (tables only). */
  columns: string[];
  unlogged: boolean;
  rowSecurity: 'off' | 'on' | 'forced';
  /** Parents (inheritance or partitioning), and the partition bound of a partition. */
  inherits: string[];
  partitionBound: string | null;
  partitionKey: string | null;
  /** View query (views and materialized views). */
  definition: string | null;
}
export interface ColumnEntry {
  on: string;
  name: string;
  /** With its type modifier, e.g. `character varying(100)`, `numeric(10,2)`. */
  type: string;
  notNull: boolean;
  default: string | null;
  identity: 'always' | 'by default' | null;
  /** Expression of a generated column, with `(stored)` or `(virtual)`. */
  generated: string | null;
  collation: string | null;
}
export interface ConstraintEntry {
  on: string;
  name: string;
  kind: 'primary key' | 'unique constraint' | 'foreign key' | 'check constraint' | 'exclusion constraint' | 'constraint trigger' | 'constraint';
  definition: string;
}
export interface IndexEntry {
  on: string;
  name: string;
  definition: string;
}
export interface TriggerEntry {
  on: string;
  name: string;
  definition: string;
  /** `enabled` (the default), `disabled`, `replica` or `always`. */
  state: string;
}
export interface PolicyEntry {
  on: string;
  name: string;
  command: string;
  permissive: boolean;
  roles: string[];
  using: string | null;
  check: string | null;
}
export interface SequenceEntry {
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** `table.column` the sequence is owned by (serial columns), or null. */
  ownedBy: string | null;
}
export interface TypeEntry {
  kind: 'enum type' | 'domain' | 'composite type' | 'range type' | 'base type';
  /** Enum labels in their order. */
  labels: string[] | null;
  /** Domain: base type, NOT NULL, default and constraints (`name: definition`); composite: attributes; range: subtype. */
  baseType: string | null;
  notNull: boolean;
  default: string | null;
  constraints: string[] | null;
  attributes: string[] | null;
  subtype: string | null;
}
export interface FunctionEntry {
  kind: 'function' | 'procedure' | 'aggregate' | 'window function';
  /** `pg_get_functiondef` (for aggregates: transition function, state type, final function, initial value). */
  definition: string;
}

export interface SnapshotOptions {
  /**
   * Tables left out together with their columns, constraints, indexes, triggers, policies and owned sequences, as
   * names `to_regclass` resolves (unqualified names through the search path). Missing ones are fine.
   * Default: none. Verify passes the ledger (`pgmigrations`) and the checksum table.
   */
  ignoreTables?: readonly string[];
}

/** The schemas the snapshot looks at: not pg_catalog, pg_toast, pg_temp_*, information_schema. */
const USER_SCHEMA = `(n.nspname <> 'information_schema' AND n.nspname !~ '^pg_')`;
/** OIDs of the ignored tables ($1 holds their names). */
const IGNORED = `ARRAY(SELECT r FROM unnest($1::text[]) AS t(name), to_regclass(t.name) AS r WHERE r IS NOT NULL)::oid[]`;
const notExtensionMember = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
/** Display name of a relation/type/function: bare in public, `schema.name` elsewhere. */
const displayName = (schema: string, name: string) => `CASE WHEN ${schema} = 'public' THEN ${name}::text ELSE ${schema} || '.' || ${name} END`;
/** A user relation of one of the kinds, not ignored, not part of an extension. */
const userRelation = (alias: string, kinds: string) =>
  `${alias}.relkind IN (${kinds}) AND NOT (${alias}.oid = ANY(${IGNORED})) AND ${notExtensionMember('pg_class', `${alias}.oid`)}`;

const SCHEMAS_SQL = `
SELECT n.nspname AS name
FROM pg_namespace n
WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_namespace', 'n.oid')}
ORDER BY 1`;

const EXTENSIONS_SQL = `
SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
ORDER BY 1`;

const RELATIONS_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS name, c.relkind AS kind, c.relpersistence = 'u' AS unlogged,
  CASE WHEN c.relforcerowsecurity THEN 'forced' WHEN c.relrowsecurity THEN 'on' ELSE 'off' END AS row_security,
  ARRAY(SELECT ${displayName('pn.nspname', 'p.relname')} FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS inherits,
  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
  CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
  CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ARRAY(SELECT a.attname::text FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) ELSE '{}' END AS columns
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p', 'f', 'v', 'm'`)}
ORDER BY 1`;

const COLUMNS_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS on, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
  a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS expression, a.attidentity AS identity,
  a.attgenerated AS generated, CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation
FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p', 'f'`)}
ORDER BY 1, a.attnum`;

// contype 'n' (NOT NULL, catalogued since PostgreSQL 18) is the column's notNull.
const CONSTRAINTS_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS on, con.conname AS name, con.contype AS kind,
  pg_get_constraintdef(con.oid, true) AS definition
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype <> 'n' AND ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p', 'f'`)}
ORDER BY 1, 2`;

const INDEXES_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS on, ${displayName('n.nspname', 'ic.relname')} AS name,
  pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p', 'm'`)}
  AND NOT EXISTS (SELECT FROM pg_constraint con
                  WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))
ORDER BY 1, 2`;

const TRIGGERS_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS on, t.tgname AS name, pg_get_triggerdef(t.oid, true) AS definition,
  t.tgenabled AS state
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p', 'f', 'v', 'm'`)}
ORDER BY 1, 2`;

const POLICIES_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS on, p.polname AS name, p.polcmd AS command, p.polpermissive AS permissive,
  ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) AS r ORDER BY 1) AS roles,
  pg_get_expr(p.polqual, p.polrelid) AS using, pg_get_expr(p.polwithcheck, p.polrelid) AS check
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA} AND ${userRelation('c', `'r', 'p'`)}
ORDER BY 1, 2`;

// Identity sequences (deptype 'i') are the column's identity; those owned by an ignored table go with it.
const SEQUENCES_SQL = `
SELECT ${displayName('n.nspname', 'c.relname')} AS name, format_type(s.seqtypid, NULL) AS type,
  s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
  s.seqcache::text AS cache, s.seqcycle AS cycle, owner.owned_by
FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL (
    SELECT ${displayName('tn.nspname', 't.relname')} || '.' || a.attname AS owned_by, d.refobjid AS table_oid
    FROM pg_depend d
      JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
  ) owner ON true
WHERE ${USER_SCHEMA} AND ${userRelation('c', `'S'`)}
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
  AND (owner.table_oid IS NULL OR NOT (owner.table_oid = ANY(${IGNORED})))
ORDER BY 1`;

const TYPES_SQL = `
SELECT ${displayName('n.nspname', 't.typname')} AS name, t.typtype AS kind,
  CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
  CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
  t.typnotnull AS not_null, t.typdefault AS default,
  CASE WHEN t.typtype = 'd' THEN ARRAY(SELECT con.conname || ': ' || pg_get_constraintdef(con.oid, true)
        FROM pg_constraint con WHERE con.contypid = t.oid AND con.contype <> 'n' ORDER BY 1) END AS constraints,
  CASE WHEN t.typtype = 'c' THEN ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) END AS attributes,
  CASE WHEN t.typtype = 'r' THEN (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) END AS subtype
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')}
  AND (t.typtype IN ('e', 'd', 'r')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
       OR (t.typtype = 'b' AND NOT EXISTS (SELECT FROM pg_type el WHERE el.typarray = t.oid)))
ORDER BY 1`;

const FUNCTIONS_SQL = `
SELECT ${displayName('n.nspname', 'p.proname')} || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, p.prokind AS kind,
  CASE WHEN p.prokind = 'a' THEN
    (SELECT a.aggtransfn::text || ' ' || format_type(a.aggtranstype, NULL)
            || coalesce(' final ' || nullif(a.aggfinalfn::oid, 0)::regproc::text, '') || coalesce(' initially ' || a.agginitval, '')
     FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
  ELSE pg_get_functiondef(p.oid) END AS definition
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_proc', 'p.oid')}
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
ORDER BY 1`;

const RELATION_KINDS: Record<string, RelationEntry['kind']> = {
  r: 'table',
  p: 'partitioned table',
  f: 'foreign table',
  v: 'view',
  m: 'materialized view',
};
const CONSTRAINT_KINDS: Record<string, ConstraintEntry['kind']> = {
  p: 'primary key',
  u: 'unique constraint',
  f: 'foreign key',
  c: 'check constraint',
  x: 'exclusion constraint',
  t: 'constraint trigger',
};
const TYPE_KINDS: Record<string, TypeEntry['kind']> = { e: 'enum type', d: 'domain', c: 'composite type', r: 'range type', b: 'base type' };
const FUNCTION_KINDS: Record<string, FunctionEntry['kind']> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window function' };
const TRIGGER_STATES: Record<string, string> = { O: 'enabled', D: 'disabled', R: 'replica', A: 'always' };
const POLICY_COMMANDS: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };

/**
 * Reads the schema of the database at `url` with a handful of catalog queries (one per kind of object, in one
 * read-only transaction).
 * @example const before = await takeSnapshot(url, { ignoreTables: ['pgmigrations'] })
 */
export function takeSnapshot(url: string, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  return withClient(url, (client) => readSnapshot(client, options));
}

/**
 * {@link takeSnapshot} on an open client (not inside a transaction of the caller's), in one repeatable-read
 * transaction. Given several clients, the queries run on them at once, with no transaction: for a caller that knows
 * nothing changes the schema meanwhile (verify, on its own throw-away database).
 */
export async function readSnapshot(clients: Client | readonly Client[], { ignoreTables = [] }: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  const params = [ignoreTables];
  const pool = Array.isArray(clients) ? (clients as readonly Client[]) : [clients as Client];
  const consistent = pool.length === 1;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- catalog rows of many shapes, each read by its own query
  type Row = Record<string, any>;
  if (consistent) await pool[0]!.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const queries: [string, boolean][] = [
      [SCHEMAS_SQL, false],
      [EXTENSIONS_SQL, false],
      [RELATIONS_SQL, true],
      [COLUMNS_SQL, true],
      [CONSTRAINTS_SQL, true],
      [INDEXES_SQL, true],
      [TRIGGERS_SQL, true],
      [POLICIES_SQL, true],
      [SEQUENCES_SQL, true],
      [TYPES_SQL, false],
      [FUNCTIONS_SQL, false],
    ];
    // The costly ones first, spread over the clients (the single client queues them).
    // Spread over the clients, each running its share one after the other (a pg client takes one query at a time).
    const results: Row[][] = new Array(queries.length);
    await Promise.all(
      pool.map(async (client, slot) => {
        for (let index = slot; index < queries.length; index += pool.length) {
          const [sql, withParams] = queries[index]!;
          results[index] = (await client.query(sql, withParams ? params : [])).rows as Row[];
        }
      }),
    );
    const [schemas, extensions, relations, columns, constraints, indexes, triggers, policies, sequences, types, functions] = results as [
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
    ];
    const snapshot: SchemaSnapshot = {
      schemas: keyed(schemas, (row) => [row.name, {}]),
      extensions: keyed(extensions, (row) => [row.name, { schema: row.schema, version: row.version }]),
      relations: keyed(relations, (row) => [
        row.name,
        {
          kind: RELATION_KINDS[row.kind] ?? 'table',
          columns: row.columns,
          unlogged: row.unlogged,
          rowSecurity: row.row_security,
          inherits: row.inherits,
          partitionBound: row.partition_bound,
          partitionKey: row.partition_key,
          definition: row.definition,
        },
      ]),
      columns: keyed(columns, (row) => [
        `${row.on}.${row.name}`,
        {
          on: row.on,
          name: row.name,
          type: row.type,
          notNull: row.not_null,
          default: row.generated ? null : row.expression,
          identity: row.identity === 'a' ? 'always' : row.identity === 'd' ? 'by default' : null,
          generated: row.generated ? `${row.expression} (${row.generated === 'v' ? 'virtual' : 'stored'})` : null,
          collation: row.collation,
        },
      ]),
      constraints: keyed(constraints, (row) => [
        `${row.name} on ${row.on}`,
        { on: row.on, name: row.name, kind: CONSTRAINT_KINDS[row.kind] ?? 'constraint', definition: row.definition },
      ]),
      indexes: keyed(indexes, (row) => [`${row.name} on ${row.on}`, { on: row.on, name: row.name, definition: row.definition }]),
      triggers: keyed(triggers, (row) => [
        `${row.name} on ${row.on}`,
        { on: row.on, name: row.name, definition: row.definition, state: TRIGGER_STATES[row.state] ?? row.state },
      ]),
      policies: keyed(policies, (row) => [
        `${row.name} on ${row.on}`,
        {
          on: row.on,
          name: row.name,
          command: POLICY_COMMANDS[row.command] ?? row.command,
          permissive: row.permissive,
          roles: row.roles,
          using: row.using,
          check: row.check,
        },
      ]),
      sequences: keyed(sequences, (row) => [
        row.name,
        {
          type: row.type,
          start: row.start,
          increment: row.increment,
          min: row.min,
          max: row.max,
          cache: row.cache,
          cycle: row.cycle,
          ownedBy: row.owned_by,
        },
      ]),
      types: keyed(types, (row) => [
        row.name,
        {
          kind: TYPE_KINDS[row.kind] ?? 'base type',
          labels: row.labels,
          baseType: row.base_type,
          notNull: row.not_null,
          default: row.default,
          constraints: row.constraints,
          attributes: row.attributes,
          subtype: row.subtype,
        },
      ]),
      functions: keyed(functions, (row) => [row.name, { kind: FUNCTION_KINDS[row.kind] ?? 'function', definition: row.definition }]),
    };
    return snapshot;
  } finally {
    if (consistent) await pool[0]!.query('ROLLBACK');
  }
}

/** An empty snapshot (no object of any kind), e.g. as a base for tests. */
export function emptySnapshot(): SchemaSnapshot {
  return {
    schemas: {},
    extensions: {},
    relations: {},
    columns: {},
    constraints: {},
    indexes: {},
    triggers: {},
    policies: {},
    sequences: {},
    types: {},
    functions: {},
  };
}

/** Rows → a map in sorted key order (code-point order, so it does not depend on the server's collation). */
function keyed<R, T>(rows: R[], entry: (row: R) => [string, T]): Record<string, T> {
  const pairs = rows.map(entry).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const result: Record<string, T> = {};
  for (const [key, value] of pairs) result[key] = value;
  return result;
}
