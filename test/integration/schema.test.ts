import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withClient } from '../../tasks/db/pg-client';
import { schemaSnapshot } from '../../tasks/engine/schema';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, REPO_ROOT, runGulp, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };
const LEDGER = { schema: 'public', table: 'pgmigrations' };
const USERS = '1732500002000_create_users.ts';

describe('the committed schema file: schema:dump and schema:check', function () {
  let project: TestProject;
  let schemaFile: string;
  before(() => {
    project = createTestProject();
    project.addMigrations('starter');
    schemaFile = path.join(project.dir, 'schema.sql');
  });
  after(() => project.remove());

  it('schema:dump writes the same bytes every time: no owner, no privilege, the server version in the header', async () => {
    const first = await runGulp(['schema:dump'], { cwd: project.dir, env: EMBEDDED });
    expect(first.code, first.output).to.equal(0);
    expect(first.output).to.match(/Wrote schema\.sql \(\d+ lines\)/);
    const text = readFileSync(schemaFile, 'utf8');
    expect(text.split('\n')[0]).to.match(
      /^-- The schema the 5 migrations in migrations\/ \(the last: 1732500004000_create_tags\) produce, on PostgreSQL \d+\.\d+\.$/,
    );
    for (const statement of [
      'CREATE EXTENSION IF NOT EXISTS "pgcrypto"',
      'CREATE TYPE "visibility" AS ENUM',
      'CREATE TABLE "users" (',
      'CREATE TRIGGER users_set_updated_at',
    ]) {
      expect(text).to.include(statement);
    }
    expect(text).not.to.match(/OWNER|GRANT|pgmigrations|pgmt_migration_checksums/);
    const second = await runGulp(['schema:dump'], { cwd: project.dir, env: EMBEDDED });
    expect(second.output).to.include('schema.sql is current (no change)');
    expect(readFileSync(schemaFile, 'utf8')).to.equal(text);
  });

  it('schema:check passes on a current file, and fails with a diff after an applied migration is edited, or the file is', async () => {
    const current = await runGulp(['schema:check'], { cwd: project.dir, env: EMBEDDED });
    expect(current.code, current.output).to.equal(0);
    expect(current.output).to.include('schema.sql is what the migrations produce');

    const users = path.join(project.migrationsDir, USERS);
    const original = readFileSync(users, 'utf8');
    writeFileSync(
      users,
      original.replace("display_name: { type: 'text', notNull: true }", "display_name: { type: 'text', notNull: true },\n    nickname: { type: 'text' }"),
    );
    expect(readFileSync(users, 'utf8')).to.include('nickname');
    const edited = await runGulp(['schema:check'], { cwd: project.dir, env: EMBEDDED });
    expect(edited.code).to.equal(1);
    expect(edited.output).to.include('schema.sql is not what the migrations produce:');
    expect(edited.output).to.match(/^--- schema\.sql \(committed\)$/m);
    expect(edited.output).to.match(/^\+\+\+ schema\.sql \(from the migrations\)$/m);
    expect(edited.output).to.match(/^\+ {4}"nickname" text,?$/m);
    expect(edited.output).to.include('hint: if the migrations are right, run `gulp schema:dump` and commit the file');
    writeFileSync(users, original);

    const committed = readFileSync(schemaFile, 'utf8');
    writeFileSync(schemaFile, committed.replace('"email" text NOT NULL', '"email" character varying(200) NOT NULL'));
    const handEdited = await runGulp(['schema:check'], { cwd: project.dir, env: EMBEDDED });
    expect(handEdited.code).to.equal(1);
    expect(handEdited.output).to.match(/^- {4}"email" character varying\(200\) NOT NULL,$/m);
    expect(handEdited.output).to.match(/^\+ {4}"email" text NOT NULL,$/m);

    const local = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
    expect(local.code, local.output).to.equal(0);
    expect(local.output).to.match(/Updated schema\.sql \(\+1 −1 lines\)/);
    expect(readFileSync(schemaFile, 'utf8')).to.equal(committed);
  });

  describe('against a live database', () => {
    let server: TestServer;
    before(async () => (server = await startTestServer()));
    after(async () => server?.stop());

    /** A database made by plain SQL from the schema file (as another tool or a person would), with no ledger. */
    async function databaseFromSchemaFile(name: string, extra = ''): Promise<string> {
      const url = await server.freshDatabase(name);
      await withClient(server.database.superuserUrl!.replace(/\/[^/]*$/, `/${name}`), async (client) => {
        await client.query(readFileSync(schemaFile, 'utf8') + extra);
        await client.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO "${new URL(url).username}"`);
      });
      return url;
    }

    it('the schema file is loadable SQL that gives back the migrated schema', async () => {
      const migrated = await server.freshDatabase('schema_migrated');
      const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: migrated } });
      expect(run.code, run.output).to.equal(0);
      const loaded = await databaseFromSchemaFile('schema_loaded');
      const [a, b] = await Promise.all([migrated, loaded].map((url) => withClient(url, (client) => schemaSnapshot(client, LEDGER))));
      expect(b).to.deep.equal(a);
    });

    it('migrate:drift: nothing on a clean database; a column and an index added by hand, each named; it only reads', async () => {
      const url = await server.freshDatabase('drift');
      expect((await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: url } })).code).to.equal(0);
      const clean = await runGulp(['migrate:drift'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(clean.code, clean.output).to.equal(0);
      expect(clean.output).to.match(/No drift: the live database's schema is what its 5 applied migrations produce/);

      await query(url, 'ALTER TABLE users ADD COLUMN nickname text; CREATE INDEX users_nickname_idx ON users (nickname)');
      const ledgerBefore = await query(url, 'SELECT name, run_on FROM pgmigrations ORDER BY id');
      const drifted = await runGulp(['migrate:drift'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(drifted.code, drifted.output).to.equal(4);
      expect(drifted.output).to.include(
        'Drift: the live database (5 migrations applied (the last: 1732500004000_create_tags)) differs from what those migrations produce in 2 places:',
      );
      expect(drifted.output).to.include('+ column "nickname" on users: only in the live database');
      expect(drifted.output).to.include('+ index "users_nickname_idx" on users: only in the live database');
      expect(await query(url, 'SELECT name, run_on FROM pgmigrations ORDER BY id')).to.deep.equal(ledgerBefore);
    });

    it('migrate:baseline records the migrations of a database built by plain SQL, after checking its schema; status is then clean', async () => {
      const url = await databaseFromSchemaFile('baseline_same');
      const run = await runGulp(['migrate:baseline', '--to', '1732500004000_create_tags'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include(
        'Recorded 5 migrations (1732500000000_enable_pgcrypto … 1732500004000_create_tags) as applied in public.pgmigrations, with their checksums, without running them: the live schema is what they produce',
      );
      const status = await runGulp(['migrate:status'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(status.code, status.output).to.equal(0);
      expect(status.output).to.include('5 applied');
      const again = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(again.output).to.include('Already up to date');
    });

    it('migrate:baseline without --to (or --accept) says what it needs before any server starts, and records nothing', async () => {
      const url = await databaseFromSchemaFile('baseline_no_to');
      const run = await runGulp(['migrate:baseline'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(run.code).to.equal(1);
      expect(run.output).to.include('migrate:baseline needs --to NAME: the last migration whose schema the database already has');
      expect(run.output).not.to.include('Database provider:');
      expect(await query(url, "SELECT to_regclass('public.pgmigrations') IS NULL AS none")).to.deep.equal([{ none: true }]);
    });

    it('migrate:baseline refuses a database with one column more, showing it, and records nothing (--force records anyway)', async () => {
      const url = await databaseFromSchemaFile('baseline_more', 'ALTER TABLE users ADD COLUMN legacy_id integer;');
      const run = await runGulp(['migrate:baseline', '--to', 'create_tags'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(run.code).to.equal(1);
      expect(run.output).to.include(
        "the live database's schema is not what the migrations up to 1732500004000_create_tags produce (1 difference), so nothing was recorded:",
      );
      expect(run.output).to.include('+ column "legacy_id" on users: only in the live database');
      expect(await query(url, "SELECT to_regclass('pgmigrations') AS ledger")).to.deep.equal([{ ledger: null }]);
      const forced = await runGulp(['migrate:baseline', '--to', 'create_tags', '--force'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(forced.code, forced.output).to.equal(0);
      expect(forced.output).to.include('--force: recording the migrations up to 1732500004000_create_tags although the schema differs in 1 place');
      expect(await query(url, 'SELECT count(*)::int AS n FROM pgmigrations')).to.deep.equal([{ n: 5 }]);
    });

    it('a ledger written by node-pg-migrate’s own CLI works with status, and --accept records its checksums', async () => {
      const url = await server.freshDatabase('baseline_cli');
      const cli = spawnSync(
        process.execPath,
        [path.join(REPO_ROOT, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js'), 'up', '-m', project.migrationsDir],
        {
          cwd: project.dir,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url },
          encoding: 'utf8',
        },
      );
      expect(cli.status, `${cli.stdout}${cli.stderr}`).to.equal(0);
      const before = await runGulp(['migrate:status'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(before.output).to.include('5 no checksum');
      const accepted = await runGulp(['migrate:baseline', '--accept'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(accepted.code, accepted.output).to.equal(0);
      expect(accepted.output).to.include('Recorded the checksums of the 5 migrations the ledger already listed');
      const after = await runGulp(['migrate:status'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(after.code, after.output).to.equal(0);
      expect(after.output).to.include('5 applied');
    });
  });
});
