// Generated migration folders for the bench cases. Deterministic: the same index gives the same file, so runs compare.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** First timestamp prefix; migration `index` gets FIRST_STAMP + index seconds. */
const FIRST_STAMP = 1_700_000_000_000;

export const migrationName = (index: number, slug: string) => `${FIRST_STAMP + index * 1_000}_${slug}_${index}`;

/** The tables migration `index` of a schema folder creates: 2 or 3. */
export const tablesOf = (index: number) => Array.from({ length: 2 + (index % 2) }, (_, k) => `t${index}_${k}`);

/**
 * A TypeScript migration creating 2–3 tables, each with an index and a foreign key: the first table references the
 * previous migration's first table (none for migration 0), the others reference the first. Clean for `gulp lint`
 * (indexes and keys on new tables only); `varcharEvery` > 0 makes every n-th use varchar (an info finding).
 */
export function schemaMigration(index: number, { varcharEvery = 0 } = {}): string {
  const tables = tablesOf(index);
  const nameType = varcharEvery > 0 && index % varcharEvery === 0 ? 'varchar(200)' : 'text';
  const up = tables.map((table, k) => {
    const parent = k === 0 ? (index > 0 ? tablesOf(index - 1)[0] : undefined) : tables[0];
    const reference = parent ? `\n    ${parent}_id: { type: 'integer', references: '${parent}', onDelete: 'CASCADE' },` : '';
    return [
      `  pgm.createTable('${table}', {`,
      `    id: 'id',`,
      `    name: { type: '${nameType}', notNull: true },${reference}`,
      `    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },`,
      '  });',
      `  pgm.createIndex('${table}', ${parent ? `'${parent}_id'` : "'name'"});`,
    ].join('\n');
  });
  const down = [...tables].reverse().map((table) => `  pgm.dropTable('${table}');`);
  return [
    "import type { MigrationBuilder } from 'node-pg-migrate';",
    '',
    'export const up = (pgm: MigrationBuilder): void => {',
    ...up,
    '};',
    '',
    'export const down = (pgm: MigrationBuilder): void => {',
    ...down,
    '};',
    '',
  ].join('\n');
}

/** The up and down SQL of schema migration `index`: the same shape as schemaMigration, in plain SQL. */
export function schemaSql(index: number): { up: string; down: string } {
  const tables = tablesOf(index);
  const up = tables.map((table, k) => {
    const parent = k === 0 ? (index > 0 ? tablesOf(index - 1)[0] : undefined) : tables[0];
    const reference = parent ? `, ${parent}_id integer REFERENCES ${parent} ON DELETE CASCADE` : '';
    return (
      `CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL${reference}, created_at timestamptz NOT NULL DEFAULT now());\n` +
      `CREATE INDEX ${table}_idx ON ${table} (${parent ? `${parent}_id` : 'name'});`
    );
  });
  const down = [...tables].reverse().map((table) => `DROP TABLE ${table};`);
  return { up: up.join('\n'), down: down.join('\n') };
}

/** The same shape in plain SQL (node-pg-migrate's `-- Up Migration` / `-- Down Migration` sections). */
export function schemaSqlMigration(index: number): string {
  const { up, down } = schemaSql(index);
  return ['-- Up Migration', up, '', '-- Down Migration', down, ''].join('\n');
}

/** A migration in dbmate's format (`-- migrate:up` / `-- migrate:down`), for the dbmate peer. */
export const dbmateMigration = ({ up, down }: { up: string; down: string }) => `-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`;

/** The peer of case 1: the 50 schema migrations rendered to SQL (schemaSql), in dbmate's format. */
export function writeSchemaDbmateMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1)
    writeFileSync(path.join(dir, `${migrationName(index, 'create_tables')}.sql`), dbmateMigration(schemaSql(index)));
}

/** Case 5's squawk row: `count` schema migrations, all `.sql` (node-pg-migrate's format), what both linters read. */
export function writeSchemaSqlMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1) writeFileSync(path.join(dir, `${migrationName(index, 'create_tables')}.sql`), schemaSqlMigration(index));
}

/** Case 1: `count` TypeScript schema migrations. */
export function writeSchemaMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1) writeFileSync(path.join(dir, `${migrationName(index, 'create_tables')}.ts`), schemaMigration(index));
}

/** Case 5: four TypeScript migrations in five (every 10th with a varchar, an info finding), one in five SQL. */
export function writeLintMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1) {
    const sql = index % 5 === 4;
    const file = `${migrationName(index, 'create_tables')}.${sql ? 'sql' : 'ts'}`;
    writeFileSync(path.join(dir, file), sql ? schemaSqlMigration(index) : schemaMigration(index, { varcharEvery: 10 }));
  }
}

/** The up SQL of trivial migration `index` (case 3). */
export const trivialUpSql = (index: number) => `CREATE TABLE trivial_${index} (id integer PRIMARY KEY);`;

/** The down SQL of trivial migration `index`. */
export const trivialDownSql = (index: number) => `DROP TABLE trivial_${index};`;

/**
 * Case 3: `count` trivial `.sql` migrations (one CREATE TABLE each) in `dir`; returns the concatenated up SQL, what
 * `psql -1 -f` runs as the baseline.
 */
export function writeTrivialSqlMigrations(dir: string, count: number): string {
  mkdirSync(dir, { recursive: true });
  const all: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const up = trivialUpSql(index);
    writeFileSync(path.join(dir, `${migrationName(index, 'trivial')}.sql`), `-- Up Migration\n${up}\n\n-- Down Migration\n${trivialDownSql(index)}\n`);
    all.push(up);
  }
  return `${all.join('\n')}\n`;
}

/** Case 3's dbmate peer: the same trivial migrations, same names, in dbmate's format. */
export function writeTrivialDbmateMigrations(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < count; index += 1)
    writeFileSync(path.join(dir, `${migrationName(index, 'trivial')}.sql`), dbmateMigration({ up: trivialUpSql(index), down: trivialDownSql(index) }));
}

/** Case 6: the content of every status migration (their checksums are recorded as applied). */
export const STATUS_MIGRATION_CONTENT = '-- Up Migration\nSELECT 1;\n\n-- Down Migration\nSELECT 1;\n';

/** Case 6: `count` files named `migrationName(index, 'migration')`.sql, all with STATUS_MIGRATION_CONTENT. */
export function writeStatusMigrations(dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  const names = Array.from({ length: count }, (_, index) => migrationName(index, 'migration'));
  for (const name of names) writeFileSync(path.join(dir, `${name}.sql`), STATUS_MIGRATION_CONTENT);
  return names;
}
