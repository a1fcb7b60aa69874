// A ledger the migration role cannot create or write: PostgreSQL 15+ gives no CREATE on schema public to a role that
// does not own the database, and a read-only database or a hot standby refuses every write. The migration files are
// fine: the error must say what is wrong with the database and what to run, without a stack trace.
import { expect } from 'chai';
import { withClient } from '../../tasks/db/pg-client';
import { buildUrl, parseDatabaseUrl } from '../../tasks/settings/settings';
import { startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, runGulp, type TestProject } from '../support/project';

const ROLE = 'ledger_guest';
const PASSWORD = 'guest-pw';

describe('a ledger the migration role cannot create or write', function () {
  this.timeout(60_000);
  let server: TestServer;
  let project: TestProject;
  let port: number;
  const urlFor = (database: string) => buildUrl({ host: '127.0.0.1', port, database, user: ROLE, password: PASSWORD });
  const admin = (sql: string) => withClient(server.database.superuserUrl!, (client) => client.query(sql));

  before(async () => {
    server = await startTestServer();
    port = parseDatabaseUrl(server.database.url, [])!.port;
    await admin(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
    project = createTestProject();
    project.addMigrations('starter');
  });
  after(async () => {
    await server?.stop();
    project?.remove();
  });

  it('no CREATE on schema public (a database the role does not own): names the grant to run, no stack trace, nothing changed', async () => {
    await admin('CREATE DATABASE not_owned');
    const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: urlFor('not_owned') } });
    expect(run.code, run.output).to.equal(1);
    expect(run.output, run.output).to.include(
      `the role "${ROLE}" may not create the ledger table public.pgmigrations in database not_owned: permission denied for schema public; no migration was run`,
    );
    expect(run.output, run.output).to.include(
      `hint: as the database's owner or a superuser: GRANT CREATE ON SCHEMA public TO "${ROLE}"; or migrate as the role that owns the database`,
    );
    expect(run.output).not.to.include('fix the file');
    expect(run.output, 'a stack trace was printed').not.to.match(/\n\s+at /);
    expect(await tableNames(server.database.superuserUrl!.replace(/\/[^/]*$/, '/not_owned'))).to.deep.equal([]);
  });

  it('a read-only database: says so and points at the primary, no stack trace', async () => {
    await admin(`CREATE DATABASE read_only OWNER ${ROLE}`);
    await admin('ALTER DATABASE read_only SET default_transaction_read_only = on');
    const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: urlFor('read_only') } });
    expect(run.code, run.output).to.equal(1);
    expect(run.output, run.output).to.include(
      'database read_only is read-only here (cannot execute CREATE TABLE in a read-only transaction); no migration was run',
    );
    expect(run.output, run.output).to.include(
      'hint: migrate on the primary (a hot standby is read-only), or turn off default_transaction_read_only for the database',
    );
    expect(run.output).not.to.include('fix the file');
    expect(run.output, 'a stack trace was printed').not.to.match(/\n\s+at /);
  });

  it('a checksum table the role may not write (made by another role): the migrations run, a warning says how to grant it', async () => {
    await admin(`CREATE DATABASE foreign_checksums OWNER ${ROLE}`);
    const superuser = server.database.superuserUrl!.replace(/\/[^/]*$/, '/foreign_checksums');
    await withClient(superuser, (client) =>
      client.query(
        'CREATE TABLE public.pgmt_migration_checksums (name text PRIMARY KEY, sha256 text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())',
      ),
    );
    const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: urlFor('foreign_checksums') } });
    // Before: "migration 1732500004000_create_tags failed (up): permission denied for table pgmt_migration_checksums",
    // with "fix … in migrations/", and nothing applied.
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('Applied 5 migrations');
    expect(run.output).to.include(
      `The migrations ran, but their checksums could not be recorded (the role "${ROLE}" may not write the checksum table "public"."pgmt_migration_checksums"; as its owner or a superuser: GRANT SELECT, INSERT, UPDATE, DELETE ON "public"."pgmt_migration_checksums" TO "${ROLE}")`,
    );
    expect(run.output).not.to.include('fix 17');
  });
});
