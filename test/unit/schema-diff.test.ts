import { expect } from 'chai';
import { compareSnapshots, contrast, diffSnapshots } from '../../tasks/db/schema-diff';
import { emptySnapshot, type ColumnEntry, type RelationEntry, type SchemaSnapshot } from '../../tasks/db/schema-snapshot';

const table = (columns: string[], extra: Partial<RelationEntry> = {}): RelationEntry => ({
  kind: 'table',
  columns,
  unlogged: false,
  rowSecurity: 'off',
  inherits: [],
  partitionBound: null,
  partitionKey: null,
  definition: null,
  ...extra,
});
const column = (on: string, name: string, extra: Partial<ColumnEntry> = {}): ColumnEntry => ({
  on,
  name,
  type: 'text',
  notNull: false,
  default: null,
  identity: null,
  generated: null,
  collation: null,
  ...extra,
});

/** A small schema: users(id, email) with its primary key, an index and a serial sequence; an enum; a function. */
function usersSchema(): SchemaSnapshot {
  const snapshot = emptySnapshot();
  snapshot.schemas.public = {};
  snapshot.relations.users = table(['id', 'email']);
  snapshot.columns['users.id'] = column('users', 'id', { type: 'integer', notNull: true, default: "nextval('users_id_seq'::regclass)" });
  snapshot.columns['users.email'] = column('users', 'email', { notNull: true });
  snapshot.constraints['users_pkey on users'] = { on: 'users', name: 'users_pkey', kind: 'primary key', definition: 'PRIMARY KEY (id)' };
  snapshot.indexes['users_email_index on users'] = {
    on: 'users',
    name: 'users_email_index',
    definition: 'CREATE INDEX users_email_index ON public.users USING btree (email)',
  };
  snapshot.sequences.users_id_seq = { type: 'integer', start: '1', increment: '1', min: '1', max: '2147483647', cache: '1', cycle: false, ownedBy: 'users.id' };
  snapshot.types.visibility = {
    kind: 'enum type',
    labels: ['public', 'private'],
    baseType: null,
    notNull: false,
    default: null,
    constraints: null,
    attributes: null,
    subtype: null,
  };
  snapshot.functions['set_updated_at()'] = {
    kind: 'function',
    definition:
      'CREATE OR REPLACE FUNCTION public.set_updated_at()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$function$\n',
  };
  return snapshot;
}

/** A deep copy to change. */
const copy = (snapshot: SchemaSnapshot): SchemaSnapshot => structuredClone(snapshot);

describe('diffSnapshots', () => {
  it('finds no difference between equal snapshots', () => {
    expect(diffSnapshots(usersSchema(), usersSchema())).to.deep.equal([]);
  });

  it('lists a whole table once, not its columns, constraints, indexes and serial sequence', () => {
    expect(diffSnapshots(emptySnapshot(), usersSchema())).to.deep.equal([
      'schema "public" added',
      'table "users" added',
      'enum type "visibility" added',
      'function set_updated_at() added',
    ]);
    expect(diffSnapshots(usersSchema(), emptySnapshot())).to.deep.equal([
      'schema "public" removed',
      'table "users" removed',
      'enum type "visibility" removed',
      'function set_updated_at() removed',
    ]);
  });

  it('names an added column and a removed index on a table that stays', () => {
    const after = copy(usersSchema());
    after.relations.users!.columns.push('display_name');
    after.columns['users.display_name'] = column('users', 'display_name');
    delete after.indexes['users_email_index on users'];
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal(['column "display_name" on users added', 'index "users_email_index" on users removed']);
  });

  it('describes each changed property of a column, before → after', () => {
    const after = copy(usersSchema());
    after.columns['users.email'] = column('users', 'email', { type: 'character varying(100)', default: "''::character varying" });
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal([
      `column "email" on users: type text → character varying(100); nullability NOT NULL → nullable; default none → ''::character varying`,
    ]);
    expect(compareSnapshots(usersSchema(), after)).to.deep.equal([
      {
        change: 'changed',
        subject: 'column "email" on users',
        properties: [
          { property: 'type', before: 'text', after: 'character varying(100)' },
          { property: 'nullability', before: 'NOT NULL', after: 'nullable' },
          { property: 'default', before: 'none', after: "''::character varying" },
        ],
      },
    ]);
  });

  it('reports a column order change only when the same columns moved', () => {
    const after = copy(usersSchema());
    after.relations.users!.columns = ['email', 'id'];
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal(['table "users": column order id, email → email, id']);
  });

  it('shows enum labels in order, quoted', () => {
    const after = copy(usersSchema());
    after.types.visibility!.labels = ['public', 'private', 'draft'];
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal([`enum type "visibility": labels 'public', 'private' → 'public', 'private', 'draft'`]);
  });

  it('shows a long definition as the part around its first difference, whitespace collapsed', () => {
    const after = copy(usersSchema());
    after.functions['set_updated_at()']!.definition = usersSchema().functions['set_updated_at()']!.definition.replace('now()', 'clock_timestamp()');
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal([
      'function set_updated_at(): definition …$function$ BEGIN NEW.updated_at = now(); RETURN NEW; END; $function$ → ' +
        '…$function$ BEGIN NEW.updated_at = clock_timestamp(); RETURN NEW; END; $function$',
    ]);
  });

  it('lists a standalone sequence, and a serial one only when its table stays', () => {
    const after = copy(usersSchema());
    after.sequences.invoice_numbers = {
      type: 'bigint',
      start: '1000',
      increment: '1',
      min: '1',
      max: '9223372036854775807',
      cache: '1',
      cycle: false,
      ownedBy: null,
    };
    after.sequences.users_id_seq!.cycle = true;
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal(['sequence "invoice_numbers" added', 'sequence "users_id_seq": cycle NO CYCLE → CYCLE']);
  });

  it('names constraints, triggers and policies by kind and table, and views by kind', () => {
    const after = copy(usersSchema());
    after.constraints['users_email_check on users'] = {
      on: 'users',
      name: 'users_email_check',
      kind: 'check constraint',
      definition: "CHECK (email ~~ '%@%'::text)",
    };
    after.triggers['users_set_updated_at on users'] = { on: 'users', name: 'users_set_updated_at', definition: 'CREATE TRIGGER …', state: 'enabled' };
    after.policies['own_rows on users'] = {
      on: 'users',
      name: 'own_rows',
      command: 'ALL',
      permissive: true,
      roles: ['public'],
      using: '(email = CURRENT_USER)',
      check: null,
    };
    after.relations.recent_users = table([], { kind: 'view', definition: ' SELECT id FROM users;' });
    expect(diffSnapshots(usersSchema(), after)).to.deep.equal([
      'view "recent_users" added',
      'check constraint "users_email_check" on users added',
      'trigger "users_set_updated_at" on users added',
      'policy "own_rows" on users added',
    ]);
  });
});

describe('contrast', () => {
  it('keeps short values whole, with whitespace collapsed', () => {
    expect(contrast('CHECK  (a > 0)\n', 'CHECK (a >= 0)')).to.deep.equal({ before: 'CHECK (a > 0)', after: 'CHECK (a >= 0)' });
  });

  it('cuts long values at spaces on both sides of the first difference', () => {
    const words = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `word${from + i}`).join(' ');
    const before = `${words(20)} alpha ${words(30, 20)}`;
    const after = `${words(20)} beta ${words(30, 20)}`;
    expect(contrast(before, after)).to.deep.equal({
      before: '…word15 word16 word17 word18 word19 alpha word20 word21 word22 word23 word24 word25 word26 word27 …',
      after: '…word15 word16 word17 word18 word19 beta word20 word21 word22 word23 word24 word25 word26 word27 …',
    });
  });
});
