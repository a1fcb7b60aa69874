import type { SchemaSnapshot, SnapshotCategory } from './schema-snapshot';

/** One property of an object that differs between two snapshots, in readable form. */
export interface PropertyChange {
  /** e.g. `type`, `default`, `nullability`, `labels`, `definition`. */
  property: string;
  before: string;
  after: string;
}

/** One object that is only in one snapshot, or differs between them. */
export interface SchemaChange {
  change: 'added' | 'removed' | 'changed';
  /** What it is about, e.g. `index "content_user_id_index" on content`, `column "email" on users`, `enum type "visibility"`. */
  subject: string;
  /** For `changed`: each property that differs. Empty otherwise. */
  properties: PropertyChange[];
}

/** Reporting order: containers before what they contain. */
const CATEGORIES: readonly SnapshotCategory[] = [
  'schemas',
  'extensions',
  'relations',
  'columns',
  'constraints',
  'indexes',
  'triggers',
  'policies',
  'sequences',
  'types',
  'functions',
];

/** Categories whose entries sit on a relation (`on`): not listed separately when the whole relation came or went. */
const ON_RELATION: ReadonlySet<SnapshotCategory> = new Set(['columns', 'constraints', 'indexes', 'triggers', 'policies']);

type Entry = Record<string, unknown>;

const SUBJECTS: Record<SnapshotCategory, (key: string, entry: Entry) => string> = {
  schemas: (key) => `schema "${key}"`,
  extensions: (key) => `extension "${key}"`,
  relations: (key, entry) => `${String(entry.kind)} "${key}"`,
  columns: (_key, entry) => `column "${String(entry.name)}" on ${String(entry.on)}`,
  constraints: (_key, entry) => `${String(entry.kind)} "${String(entry.name)}" on ${String(entry.on)}`,
  indexes: (_key, entry) => `index "${String(entry.name)}" on ${String(entry.on)}`,
  triggers: (_key, entry) => `trigger "${String(entry.name)}" on ${String(entry.on)}`,
  policies: (_key, entry) => `policy "${String(entry.name)}" on ${String(entry.on)}`,
  sequences: (key) => `sequence "${key}"`,
  types: (key, entry) => `${String(entry.kind)} "${key}"`,
  functions: (key, entry) => `${String(entry.kind)} ${key}`,
};

/** How each property is named in a change, and how its values read. */
const PROPERTIES: Record<string, { label: string; show?: (value: unknown) => string }> = {
  kind: { label: 'kind' },
  type: { label: 'type' },
  notNull: { label: 'nullability', show: (value) => (value ? 'NOT NULL' : 'nullable') },
  default: { label: 'default' },
  identity: { label: 'identity', show: (value) => (value ? `GENERATED ${String(value).toUpperCase()} AS IDENTITY` : 'none') },
  generated: { label: 'generated as' },
  collation: { label: 'collation', show: (value) => (value ? String(value) : 'the default') },
  definition: { label: 'definition' },
  columns: { label: 'column order' },
  unlogged: { label: 'persistence', show: (value) => (value ? 'unlogged' : 'logged') },
  rowSecurity: { label: 'row level security' },
  inherits: { label: 'parents' },
  partitionBound: { label: 'partition bound' },
  partitionKey: { label: 'partition key' },
  state: { label: 'state' },
  command: { label: 'command' },
  permissive: { label: 'mode', show: (value) => (value ? 'permissive' : 'restrictive') },
  roles: { label: 'roles' },
  using: { label: 'USING' },
  check: { label: 'WITH CHECK' },
  schema: { label: 'schema' },
  version: { label: 'version' },
  start: { label: 'start' },
  increment: { label: 'increment' },
  min: { label: 'minimum' },
  max: { label: 'maximum' },
  cache: { label: 'cache' },
  cycle: { label: 'cycle', show: (value) => (value ? 'CYCLE' : 'NO CYCLE') },
  ownedBy: { label: 'owned by' },
  labels: { label: 'labels', show: (value) => (Array.isArray(value) ? value.map((label) => `'${String(label)}'`).join(', ') : 'none') },
  baseType: { label: 'base type' },
  constraints: { label: 'constraints' },
  attributes: { label: 'attributes' },
  subtype: { label: 'subtype' },
};

/** Identity fields: part of the key, never a change. */
const IDENTITY = new Set(['on', 'name']);

/** Longer values are shown as the part around their first difference. */
const SHORT_VALUE = 100;
const CONTEXT_BEFORE = 30;
const EXCERPT = 90;

/**
 * What differs between two snapshots, object by object, containers first. Objects of a relation that was added or
 * removed as a whole (its columns, constraints, indexes, triggers, policies, owned sequences) are not listed again.
 * @example compareSnapshots(before, after) // [{ change: 'added', subject: 'index "content_user_id_index" on content', properties: [] }]
 */
export function compareSnapshots(before: SchemaSnapshot, after: SchemaSnapshot): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const wholeRelations = new Set<string>();
  for (const category of CATEGORIES) {
    const was = (before[category] ?? {}) as Record<string, Entry>;
    const now = (after[category] ?? {}) as Record<string, Entry>;
    for (const key of sortedUnion(Object.keys(was), Object.keys(now))) {
      const old = was[key];
      const current = now[key];
      if (old && current) {
        const properties = changedProperties(old, current);
        if (properties.length > 0) changes.push({ change: 'changed', subject: SUBJECTS[category](key, old), properties });
        continue;
      }
      const entry = (old ?? current)!;
      if (category === 'relations') wholeRelations.add(key);
      if (ON_RELATION.has(category) && wholeRelations.has(String(entry.on))) continue;
      if (category === 'sequences' && typeof entry.ownedBy === 'string' && wholeRelations.has(tableOf(entry.ownedBy))) continue;
      changes.push({ change: old ? 'removed' : 'added', subject: SUBJECTS[category](key, entry), properties: [] });
    }
  }
  return changes;
}

/**
 * {@link compareSnapshots} as one line per object: `table "tags" added`, `index "x" on content removed`,
 * `column "email" on users: type text → character varying(100)`. Empty when the snapshots are equal.
 */
export function diffSnapshots(before: SchemaSnapshot, after: SchemaSnapshot): string[] {
  return compareSnapshots(before, after).map(describeChange);
}

/** One line for a change, as {@link diffSnapshots} prints it. */
export function describeChange({ change, subject, properties }: SchemaChange): string {
  if (change !== 'changed') return `${subject} ${change}`;
  return `${subject}: ${properties.map(({ property, before, after }) => `${property} ${before} → ${after}`).join('; ')}`;
}

function changedProperties(old: Entry, current: Entry): PropertyChange[] {
  const changes: PropertyChange[] = [];
  for (const field of sortedUnion(Object.keys(old), Object.keys(current), false)) {
    if (IDENTITY.has(field)) continue;
    const was = old[field] ?? null;
    const now = current[field] ?? null;
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    // A different set of columns is reported column by column; the order only when the same columns moved.
    if (field === 'columns' && Array.isArray(was) && Array.isArray(now) && !sameMembers(was, now)) continue;
    const { label, show = showValue } = PROPERTIES[field] ?? { label: field };
    changes.push({ property: label, ...contrast(show(was), show(now)) });
  }
  return changes;
}

function showValue(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(String).join(', ');
  return String(value);
}

/** Both values, whitespace collapsed; long ones cut down to the part around their first difference. */
export function contrast(before: string, after: string): { before: string; after: string } {
  const a = before.replace(/\s+/g, ' ').trim();
  const b = after.replace(/\s+/g, ' ').trim();
  if (a.length <= SHORT_VALUE && b.length <= SHORT_VALUE) return { before: a, after: b };
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common += 1;
  // Cut at spaces, so that no word is shown in part.
  const start = common <= CONTEXT_BEFORE ? 0 : a.lastIndexOf(' ', common - CONTEXT_BEFORE) + 1;
  const excerpt = (text: string) => {
    const space = text.indexOf(' ', start + EXCERPT);
    const end = space < 0 ? text.length : space;
    return `${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? ' …' : ''}`;
  };
  return { before: excerpt(a), after: excerpt(b) };
}

function sortedUnion(a: string[], b: string[], sort = true): string[] {
  const union = [...new Set([...a, ...b])];
  return sort ? union.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)) : union;
}

function sameMembers(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && [...a].map(String).sort().join('\u0000') === [...b].map(String).sort().join('\u0000');
}

/** `audit.log.id` → `audit.log`. */
function tableOf(column: string): string {
  return column.slice(0, column.lastIndexOf('.'));
}
