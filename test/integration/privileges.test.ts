import { expect } from 'chai';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createTestProject, runGulp, type TestProject } from '../support/project';

const CREATES_A_ROLE = [
  '-- Up Migration',
  'CREATE ROLE reporting NOLOGIN;',
  'CREATE TABLE reports (id int PRIMARY KEY);',
  'GRANT SELECT ON reports TO reporting;',
  '',
  '-- Down Migration',
  'DROP TABLE reports;',
  'DROP ROLE reporting;',
  '',
].join('\n');
const MIGRATION = '1732800000000_create_reporting_role';

describe('privileges: migrations run as the application role; DB_MIGRATE_AS=superuser on a started server', function () {
  this.timeout(60_000);
  let project: TestProject;
  beforeEach(() => {
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    project.writeFile(`migrations/${MIGRATION}.sql`, CREATES_A_ROLE);
  });
  afterEach(() => project.remove());

  it('a migration that creates a role fails as the application role, saying so and naming DB_MIGRATE_AS=superuser', async () => {
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`migration ${MIGRATION} failed (up): permission denied to create role`);
    expect(run.output).to.include('The migrations run as the application role "contentuser", which may not do this.');
    expect(run.output).to.include(
      'hint: on a database these tasks start (migrate:local, migrate:verify), DB_MIGRATE_AS=superuser runs the migrations as its superuser',
    );
    expect(run.output).to.match(/Stopped the embedded database and removed its files/);
  });

  it('passes with DB_MIGRATE_AS=superuser, and verify (up, down, up) too', async () => {
    const env = { DB_PROVIDER: 'embedded', DB_MIGRATE_AS: 'superuser' };
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env });
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('Applied 1 migration');
    const verify = await runGulp(['migrate:verify'], { cwd: project.dir, env });
    expect(verify.code, verify.output).to.equal(0);
  });

  it('an extension the embedded binaries lack (pgvector) fails with the ways to get it: PGlite, or a docker image', async () => {
    rmSync(path.join(project.migrationsDir, `${MIGRATION}.sql`));
    project.writeFile('migrations/1732900000000_enable_vector.sql', '-- Up Migration\nCREATE EXTENSION vector;\n-- Down Migration\nDROP EXTENSION vector;\n');
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(run.code, run.output).to.equal(1);
    expect(run.output, run.output).to.include('migration 1732900000000_enable_vector failed (up): extension "vector" is not available');
    expect(run.output).to.include(
      'hint: this server has no vector extension: DB_PROVIDER=pglite has pgvector, uuid-ossp, pg_trgm and pgcrypto without Docker; or DB_PROVIDER=docker with an image that has it (DB_IMAGE=pgvector/pgvector:pg15 for vector)',
    );
  });

  it('refuses DB_MIGRATE_AS=superuser against a database the tasks did not start', async () => {
    const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: 'postgresql://app:secret@127.0.0.1:1/app', DB_MIGRATE_AS: 'superuser' } });
    expect(run.code).to.equal(1);
    expect(run.output).to.include(
      'DB_MIGRATE_AS=superuser runs migrations as the superuser of a database these tasks start, and this run uses one it did not start',
    );
    expect(run.output).not.to.include('Waiting for the database');
  });
});
