// The committed schema file: a schema snapshot written as SQL, in a stable order, without owners or privileges (as
// dbmate's pg_dump --schema-only --no-owner --no-privileges), so a pull request shows the schema change of a migration.
// Built from the catalog by our own queries rather than pg_dump: the embedded server ships no pg_dump, and the
// system's refuses a newer server. The same snapshot, the same bytes.
import type { ColumnEntry, ConstraintEntry, RelationEntry, SchemaSnapshot, TypeEntry } from './schema-snapshot';

export interface DumpHeader {
  /** The server the schema was read from: `PostgreSQL 18.4`. */
  server: string;
  /** What produced it: `the 5 migrations in migrations/ (the last: 1732500004000_create_tags)`. */
  source: string;
}

/** `"name"`, or `"schema"."name"` for a display name outside public (the snapshot's `schema.name`). */
function quoteName(display: string): string {
  const dot = display.indexOf('.');
  const parts = dot > 0 && !display.startsWith('"') ? [display.slice(0, dot), display.slice(dot + 1)] : [display];
  return parts.map(quoteIdent).join('.');
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `definition;` with exactly one semicolon. */
function statement(text: string): string {
  return `${text.trim().replace(/;+$/, '')};`;
}

/**
 * The snapshot as SQL: schemas, extensions, types, sequences, functions, tables, constraints (foreign keys last),
 * indexes, views, triggers, policies, each group in name order, with a header naming the server. Every line ends in
 * `\n`; identical snapshots give identical text.
 * @example writeFileSync('schema.sql', renderSchema(snapshot, { server: 'PostgreSQL 18.4', source: 'migrations/' }))
 */
export function renderSchema(snapshot: SchemaSnapshot, header: DumpHeader): string {
  const sections: [string, string[]][] = [];
  const add = (title: string, statements: string[]) => {
    if (statements.length > 0) sections.push([title, statements]);
  };
  add(
    'Schemas',
    Object.keys(snapshot.schemas)
      .filter((name) => name !== 'public')
      .map((name) => `CREATE SCHEMA ${quoteIdent(name)};`),
  );
  add(
    'Extensions',
    Object.entries(snapshot.extensions)
      .filter(([name]) => name !== 'plpgsql')
      .map(([name, { schema }]) => `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(schema)};`),
  );
  add(
    'Types',
    Object.entries(snapshot.types).map(([name, type]) => typeStatement(name, type)),
  );
  add(
    'Sequences',
    Object.entries(snapshot.sequences).map(
      ([name, s]) =>
        `CREATE SEQUENCE ${quoteName(name)} AS ${s.type} START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} CACHE ${s.cache}${s.cycle ? ' CYCLE' : ''};`,
    ),
  );
  add(
    'Functions',
    Object.entries(snapshot.functions).map(([name, fn]) => (fn.kind === 'aggregate' ? `-- aggregate ${name}: ${fn.definition}` : statement(fn.definition))),
  );
  const tables = orderedTables(snapshot.relations);
  add(
    'Tables',
    tables.map(([name, relation]) => tableStatement(name, relation, snapshot.columns)),
  );
  add(
    'Sequence ownership',
    Object.entries(snapshot.sequences)
      .filter(([, s]) => s.ownedBy !== null)
      .map(([name, s]) => {
        const dot = s.ownedBy!.lastIndexOf('.');
        return `ALTER SEQUENCE ${quoteName(name)} OWNED BY ${quoteName(s.ownedBy!.slice(0, dot))}.${quoteIdent(s.ownedBy!.slice(dot + 1))};`;
      }),
  );
  const constraints = Object.values(snapshot.constraints);
  const constraintStatement = (c: ConstraintEntry) =>
    c.kind === 'constraint trigger' || c.kind === 'constraint'
      ? `-- ${c.kind} ${quoteIdent(c.name)} on ${quoteName(c.on)}: ${c.definition}`
      : `ALTER TABLE ONLY ${quoteName(c.on)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition};`;
  add('Constraints', constraints.filter((c) => c.kind !== 'foreign key').map(constraintStatement));
  add('Foreign keys', constraints.filter((c) => c.kind === 'foreign key').map(constraintStatement));
  add(
    'Indexes',
    Object.values(snapshot.indexes).map((index) => statement(index.definition)),
  );
  add(
    'Views',
    Object.entries(snapshot.relations)
      .filter(([, relation]) => relation.kind === 'view' || relation.kind === 'materialized view')
      .map(([name, relation]) => {
        const query = (relation.definition ?? '').trim().replace(/;+$/, '');
        return relation.kind === 'view'
          ? `CREATE VIEW ${quoteName(name)} AS\n${query};`
          : `CREATE MATERIALIZED VIEW ${quoteName(name)} AS\n${query}\nWITH NO DATA;`;
      }),
  );
  add(
    'Triggers',
    Object.values(snapshot.triggers).flatMap((trigger) => [
      statement(trigger.definition),
      ...(trigger.state === 'enabled'
        ? []
        : [
            `ALTER TABLE ${quoteName(trigger.on)} ${trigger.state === 'disabled' ? 'DISABLE' : `ENABLE ${trigger.state.toUpperCase()}`} TRIGGER ${quoteIdent(trigger.name)};`,
          ]),
    ]),
  );
  add('Row security', [
    ...tables.flatMap(([name, relation]) =>
      relation.rowSecurity === 'off'
        ? []
        : [
            `ALTER TABLE ${quoteName(name)} ENABLE ROW LEVEL SECURITY;`,
            ...(relation.rowSecurity === 'forced' ? [`ALTER TABLE ${quoteName(name)} FORCE ROW LEVEL SECURITY;`] : []),
          ],
    ),
    ...Object.values(snapshot.policies).map(
      (p) =>
        `CREATE POLICY ${quoteIdent(p.name)} ON ${quoteName(p.on)}${p.permissive ? '' : ' AS RESTRICTIVE'} FOR ${p.command} TO ${p.roles.map((role) => (role === 'public' ? 'PUBLIC' : quoteIdent(role))).join(', ')}${p.using ? ` USING (${p.using})` : ''}${p.check ? ` WITH CHECK (${p.check})` : ''};`,
    ),
  ]);

  const lines = [
    `-- The schema ${header.source} produce, on ${header.server}.`,
    '-- Written by `gulp schema:dump` (pg-migrate-tasks); `gulp schema:check` fails when it is not current. Do not edit it:',
    '-- change the schema with a migration. Owners and privileges are left out.',
    '',
    'SET check_function_bodies = false;',
  ];
  for (const [title, statements] of sections) lines.push('', `-- ${title}`, '', ...statements.join('\n\n').split('\n'));
  return `${lines.join('\n')}\n`;
}

function typeStatement(name: string, type: TypeEntry): string {
  switch (type.kind) {
    case 'enum type':
      return `CREATE TYPE ${quoteName(name)} AS ENUM (${(type.labels ?? []).map(quoteLiteral).join(', ')});`;
    case 'domain': {
      const parts = [`CREATE DOMAIN ${quoteName(name)} AS ${type.baseType}`];
      if (type.default !== null) parts.push(`DEFAULT ${type.default}`);
      if (type.notNull) parts.push('NOT NULL');
      for (const constraint of type.constraints ?? []) {
        const separator = constraint.indexOf(': ');
        parts.push(`CONSTRAINT ${quoteIdent(constraint.slice(0, separator))} ${constraint.slice(separator + 2)}`);
      }
      return `${parts.join(' ')};`;
    }
    case 'composite type':
      return `CREATE TYPE ${quoteName(name)} AS (\n${(type.attributes ?? []).map((attribute) => `    ${quoteAttribute(attribute)}`).join(',\n')}\n);`;
    case 'range type':
      return `CREATE TYPE ${quoteName(name)} AS RANGE (SUBTYPE = ${type.subtype});`;
    default:
      return `-- base type ${quoteName(name)} (created with its input and output functions; not written here)`;
  }
}

/** `name type` of a composite attribute, the name quoted. */
function quoteAttribute(attribute: string): string {
  const space = attribute.indexOf(' ');
  return `${quoteIdent(attribute.slice(0, space))}${attribute.slice(space)}`;
}

/** Tables, partitioned and foreign tables, each after the tables it inherits from (or is a partition of). */
function orderedTables(relations: SchemaSnapshot['relations']): [string, RelationEntry][] {
  const tables = Object.entries(relations).filter(
    ([, relation]) => relation.kind === 'table' || relation.kind === 'partitioned table' || relation.kind === 'foreign table',
  );
  const byName = new Map(tables);
  const done = new Set<string>();
  const ordered: [string, RelationEntry][] = [];
  const visit = (name: string, trail: Set<string>) => {
    if (done.has(name) || trail.has(name)) return;
    trail.add(name);
    for (const parent of byName.get(name)?.inherits ?? []) if (byName.has(parent)) visit(parent, trail);
    done.add(name);
    ordered.push([name, byName.get(name)!]);
  };
  for (const [name] of tables) visit(name, new Set());
  return ordered;
}

function tableStatement(name: string, relation: RelationEntry, columns: SchemaSnapshot['columns']): string {
  if (relation.kind === 'foreign table') return `-- foreign table ${quoteName(name)} (its server and options are not written here)`;
  if (relation.partitionBound !== null && relation.inherits.length === 1) {
    return `CREATE TABLE ${quoteName(name)} PARTITION OF ${quoteName(relation.inherits[0]!)} ${relation.partitionBound}${relation.partitionKey ? ` PARTITION BY ${relation.partitionKey}` : ''};`;
  }
  const definitions = relation.columns.map((column) => `    ${columnDefinition(columns[`${name}.${column}`])}`);
  const tail = [
    relation.inherits.length > 0 ? ` INHERITS (${relation.inherits.map(quoteName).join(', ')})` : '',
    relation.partitionKey ? ` PARTITION BY ${relation.partitionKey}` : '',
  ].join('');
  return `CREATE ${relation.unlogged ? 'UNLOGGED ' : ''}TABLE ${quoteName(name)} (\n${definitions.join(',\n')}\n)${tail};`;
}

function columnDefinition(column: ColumnEntry | undefined): string {
  if (!column) return '-- (a column the catalog did not describe)';
  const parts = [quoteIdent(column.name), column.type];
  if (column.collation) parts.push(`COLLATE ${quoteIdent(column.collation)}`);
  if (column.generated) {
    const match = /^(.*) \((stored|virtual)\)$/s.exec(column.generated);
    parts.push(`GENERATED ALWAYS AS (${match ? match[1] : column.generated}) ${(match ? match[2]! : 'stored').toUpperCase()}`);
  }
  if (column.identity) parts.push(`GENERATED ${column.identity.toUpperCase()} AS IDENTITY`);
  if (column.default !== null) parts.push(`DEFAULT ${column.default}`);
  if (column.notNull) parts.push('NOT NULL');
  return parts.join(' ');
}
