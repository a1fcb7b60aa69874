import { expect } from 'chai';
import { diffSnapshots } from '../../tasks/db/schema-diff';
import { takeSnapshot } from '../../tasks/db/schema-snapshot';
import { query, startTestServer, type TestServer } from '../support/database';

/**
 * One object of each kind the snapshot reads, plus things it must leave out (the ledger, extension members). Two
 * scripts: PostgreSQL 15 refuses to use a new enum value in the transaction that added it (18 allows it here).
 */
const SCHEMA_SQL = [
  `CREATE TYPE visibility AS ENUM ('public', 'private');
ALTER TYPE visibility ADD VALUE 'draft' BEFORE 'private';`,
  `
CREATE EXTENSION pgcrypto;
CREATE SCHEMA audit;
CREATE DOMAIN email AS text NOT NULL CHECK (VALUE LIKE '%@%');
CREATE TYPE money_pair AS (amount numeric(12,2), currency char(3));
CREATE TYPE float_range AS RANGE (subtype = float8);
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at = now(); RETURN NEW; END; $$;
CREATE TABLE users (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email email UNIQUE,
  name varchar(100) NOT NULL DEFAULT '',
  name_length integer GENERATED ALWAYS AS (length(name)) STORED,
  visibility visibility NOT NULL DEFAULT 'draft',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_name_index ON users (lower(name));
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON users FOR SELECT USING (email = current_user);
CREATE TABLE audit.log (id serial PRIMARY KEY, user_id integer REFERENCES users ON DELETE CASCADE, at timestamptz DEFAULT now());
CREATE SEQUENCE invoice_numbers START 1000;
CREATE VIEW visible_users AS SELECT id, name FROM users WHERE visibility = 'public';
CREATE MATERIALIZED VIEW user_count AS SELECT count(*) AS n FROM users;
CREATE AGGREGATE total(integer) (sfunc = int4pl, stype = integer, initcond = '0');
CREATE PROCEDURE touch(user_id integer) LANGUAGE sql AS $$ UPDATE users SET name = name WHERE id = user_id $$;
CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);
CREATE INDEX pgmigrations_name_index ON pgmigrations (name);
`,
];

const DROP_SQL = `
DROP TABLE pgmigrations, audit.log, users CASCADE;
DROP MATERIALIZED VIEW IF EXISTS user_count;
DROP SEQUENCE invoice_numbers;
DROP AGGREGATE total(integer);
DROP PROCEDURE touch(integer);
DROP FUNCTION set_updated_at();
DROP TYPE float_range, money_pair, visibility;
DROP DOMAIN email;
DROP SCHEMA audit;
DROP EXTENSION pgcrypto;
`;

const IGNORE = { ignoreTables: ['pgmigrations', 'pgmt_migration_checksums'] };

async function createSchema(url: string): Promise<void> {
  for (const script of SCHEMA_SQL) await query(url, script);
}

describe('schema snapshots of a real server', function () {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startTestServer();
    url = await server.freshDatabase('snapshots');
  });
  after(async () => {
    await server?.stop();
  });

  it('of an empty database: the public schema and plpgsql only', async () => {
    const snapshot = await takeSnapshot(url, IGNORE);
    expect(snapshot.schemas).to.deep.equal({ public: {} });
    expect(Object.keys(snapshot.extensions)).to.deep.equal(['plpgsql']);
    for (const category of ['relations', 'columns', 'constraints', 'indexes', 'triggers', 'policies', 'sequences', 'types', 'functions'] as const) {
      expect(snapshot[category], category).to.deep.equal({});
    }
  });

  it('lists each kind of object, and leaves out the ignored ledger, identity sequences and extension members', async () => {
    const empty = await takeSnapshot(url, IGNORE);
    await createSchema(url);
    const snapshot = await takeSnapshot(url, IGNORE);
    expect(diffSnapshots(empty, snapshot)).to.deep.equal([
      'schema "audit" added',
      'extension "pgcrypto" added',
      'table "audit.log" added',
      'materialized view "user_count" added',
      'table "users" added',
      'view "visible_users" added',
      'sequence "invoice_numbers" added',
      'domain "email" added',
      'range type "float_range" added',
      'composite type "money_pair" added',
      'enum type "visibility" added',
      'function set_updated_at() added',
      'aggregate total(integer) added',
      'procedure touch(IN user_id integer) added',
    ]);

    expect(snapshot.relations.users!.columns).to.deep.equal(['id', 'email', 'name', 'name_length', 'visibility', 'updated_at']);
    expect(snapshot.relations.users!.rowSecurity).to.equal('on');
    expect(snapshot.columns['users.id']).to.deep.include({ type: 'integer', notNull: true, identity: 'always', default: null });
    expect(snapshot.columns['users.name']).to.deep.include({ type: 'character varying(100)', notNull: true, default: "''::character varying" });
    expect(snapshot.columns['users.name_length']!.generated).to.equal('length((name)::text) (stored)');
    expect(snapshot.columns['audit.log.id']!.default).to.equal("nextval('audit.log_id_seq'::regclass)");
    expect(Object.keys(snapshot.constraints)).to.deep.equal([
      'log_pkey on audit.log',
      'log_user_id_fkey on audit.log',
      'users_email_key on users',
      'users_pkey on users',
    ]);
    expect(snapshot.constraints['log_user_id_fkey on audit.log']!.definition).to.equal('FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE');
    // Indexes behind a primary key or unique constraint are that constraint.
    expect(snapshot.indexes).to.deep.equal({
      'users_name_index on users': {
        on: 'users',
        name: 'users_name_index',
        definition: 'CREATE INDEX users_name_index ON public.users USING btree (lower((name)::text))',
      },
    });
    expect(Object.keys(snapshot.triggers)).to.deep.equal(['users_set_updated_at on users']);
    expect(snapshot.policies['own_rows on users']).to.deep.include({
      command: 'SELECT',
      permissive: true,
      roles: ['public'],
      using: '((email)::text = CURRENT_USER)',
    });
    expect(Object.keys(snapshot.sequences)).to.deep.equal(['audit.log_id_seq', 'invoice_numbers']);
    expect(snapshot.sequences['audit.log_id_seq']!.ownedBy).to.equal('audit.log.id');
    expect(snapshot.types.visibility!.labels).to.deep.equal(['public', 'draft', 'private']);
    expect(snapshot.types.email).to.deep.include({ baseType: 'text', notNull: true, constraints: ["email_check: CHECK (VALUE ~~ '%@%'::text)"] });
    expect(snapshot.types.money_pair!.attributes).to.deep.equal(['amount numeric(12,2)', 'currency character(3)']);
    expect(snapshot.relations.visible_users!.definition).to.match(
      /SELECT (users\.)?id,\s+(users\.)?name\s+FROM users\s+WHERE (users\.)?visibility = 'public'::visibility;/,
    );
    expect(Object.keys(snapshot.functions)).to.deep.equal(['set_updated_at()', 'total(integer)', 'touch(IN user_id integer)']);
  });

  it('is equal after dropping and re-creating the same objects (no OIDs, stable order)', async () => {
    const first = await takeSnapshot(url, IGNORE);
    await query(url, DROP_SQL);
    expect(diffSnapshots(first, await takeSnapshot(url, IGNORE))).to.have.length(14);
    await createSchema(url);
    const again = await takeSnapshot(url, IGNORE);
    expect(diffSnapshots(first, again)).to.deep.equal([]);
    expect(JSON.stringify(again)).to.equal(JSON.stringify(first));
  });

  it('sees the ledger when it is not ignored', async () => {
    const snapshot = await takeSnapshot(url);
    expect(snapshot.relations).to.have.property('pgmigrations');
    expect(snapshot.sequences).to.have.property('pgmigrations_id_seq');
    expect(snapshot.indexes).to.have.property('pgmigrations_name_index on pgmigrations');
  });
});
