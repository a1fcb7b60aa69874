import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { TaskError } from '../../tasks/util/errors';
import { serverIdentity } from '../../tasks/providers/os-user';
import { findPgBinaries, type PgBinaries } from '../../tasks/providers/pg-binaries';
import { createTestProject, runGulp, type TestProject } from '../support/project';

/** A view using any_value(), an aggregate PostgreSQL 16 added. */
const PG16_MIGRATION = [
  '-- Up Migration',
  'CREATE TABLE readings (sensor text NOT NULL, value numeric NOT NULL);',
  'CREATE VIEW sensor_sample AS SELECT sensor, any_value(value) AS sample FROM readings GROUP BY sensor;',
  '',
  '-- Down Migration',
  'DROP VIEW sensor_sample;',
  'DROP TABLE readings;',
  '',
].join('\n');

describe('server versions (DB_PG_VERSION)', function () {
  this.timeout(60_000);
  let project: TestProject;
  let newest: PgBinaries;
  let oldest: PgBinaries;

  before(async () => {
    const identity = await serverIdentity('postgres');
    newest = await findPgBinaries(undefined, identity);
    // The oldest major found: ask for each major from the newest down until one is missing.
    oldest = newest;
    for (let major = newest.major - 1; major >= 12; major -= 1) {
      oldest = await findPgBinaries(undefined, identity, String(major)).catch(() => oldest);
    }
  });
  beforeEach(() => (project = createTestProject()));
  afterEach(() => project.remove());

  it('defaults to the newest binaries found, and DB_PG_VERSION picks another by major', async () => {
    const identity = await serverIdentity('postgres');
    expect((await findPgBinaries(undefined, identity, String(newest.major))).version).to.equal(newest.version);
    expect((await findPgBinaries(undefined, identity, newest.version)).binDir).to.equal(newest.binDir);
    expect((await findPgBinaries(undefined, identity, String(oldest.major))).major).to.equal(oldest.major);
  });

  it('names the versions it found when DB_PG_VERSION asks for another', async () => {
    const identity = await serverIdentity('postgres');
    const error = await findPgBinaries(undefined, identity, '9').catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message).to.match(
      new RegExp(`^DB_PG_VERSION=9, and the PostgreSQL binaries found here are ${newest.version.replace(/\./g, '\\.')} \\(`),
    );
    expect((error as TaskError).hint).to.include('set DB_PG_VERSION to one of');
  });

  it('rejects a DB_PG_VERSION that is not a version before starting anything', async () => {
    project.addMigrations('starter');
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded', DB_PG_VERSION: 'latest' } });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('DB_PG_VERSION must be a PostgreSQL version such as 15 or 18.4, got "latest"');
    expect(run.output).not.to.include('Database provider');
  });

  it('runs a migration that needs PostgreSQL 16+ on the newest version; an older one refuses it, naming it', async function () {
    if (newest.major < 16) this.skip();
    mkdirSync(project.migrationsDir);
    project.writeFile('migrations/1732600000000_sensor_sample.sql', PG16_MIGRATION);
    const onNewest = await runGulp(['migrate:local'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(onNewest.code, onNewest.output).to.equal(0);
    expect(onNewest.output).to.include(`Started PostgreSQL ${newest.version}`);
    expect(onNewest.output).to.include('Applied 1 migration');

    if (oldest.major >= 16) return; // No older server here to show the difference.
    const onOldest = await runGulp(['migrate:local'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded', DB_PG_VERSION: String(oldest.major) } });
    expect(onOldest.code).to.equal(1);
    expect(onOldest.output).to.include(`Started PostgreSQL ${oldest.version}`);
    expect(onOldest.output).to.match(/1732600000000_sensor_sample.*any_value/s);
  });
});
