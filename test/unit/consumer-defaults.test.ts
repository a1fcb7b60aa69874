import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import gulp from 'gulp';
import { createMigrationTasks } from '../../tasks/gulp/migration-tasks';
import { composeFileOf } from '../../tasks/providers/compose';
import { writeKeptState } from '../../tasks/settings/kept-state';
import { projectNames, toIdentifier } from '../../tasks/settings/project-names';
import { REPO_ROOT } from '../support/project';

describe("a consumer project's defaults", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-consumer-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the role and database after the package.json name, as a PostgreSQL identifier', () => {
    expect(toIdentifier('@acme/Billing-API.v2')).to.equal('billing_api_v2');
    expect(toIdentifier('2fast')).to.equal('fast');
    expect(toIdentifier('pg-migrate-tasks')).to.equal('migrate_tasks'); // pg_ role names are reserved
    expect(toIdentifier('---')).to.equal(undefined);
    expect(toIdentifier('x'.repeat(80))).to.have.length(63);
    expect(projectNames(dir)).to.equal(undefined);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@acme/billing-api' }));
    expect(projectNames(dir)).to.deep.equal({ database: 'billing_api', user: 'billing_api' });
  });

  it('createMigrationTasks uses them unless options or DB_NAME / DB_USER say otherwise', async () => {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'billing-api' }));
    const settingsOf = async (env: Record<string, string>, options = {}) => {
      const tasks = createMigrationTasks({ gulp, cwd: dir, env, argv: ['migrate:local'], logger: { info() {}, warn() {}, error() {} }, ...options });
      await tasks.steps.ensureEnv({ startsDatabase: true })();
      return tasks.context.handoff.settings!.connection;
    };
    expect(await settingsOf({})).to.include({ database: 'billing_api', user: 'billing_api' });
    expect(await settingsOf({}, { database: 'hub', user: 'hub_owner' })).to.include({ database: 'hub', user: 'hub_owner' });
    expect(await settingsOf({ DB_NAME: 'mine', DB_USER: 'me' }, { database: 'hub' })).to.include({ database: 'mine', user: 'me' });
  });

  it('the kept-database folder keeps itself out of git', async () => {
    await writeKeptState(dir, {
      provider: 'embedded',
      url: 'postgresql://a:secret@127.0.0.1:1/b',
      superuserUrl: 'postgresql://p:s@127.0.0.1:1/p',
      startedAt: 'now',
    });
    expect(readFileSync(path.join(dir, '.pg-migrate-tasks', '.gitignore'), 'utf8')).to.match(/^\*$/m);
  });

  it('compose: the project’s docker-compose.yml, else the one the package ships; COMPOSE_FILE as given', () => {
    const projectFile = path.join(dir, 'docker-compose.yml');
    expect(composeFileOf({ projectDir: dir, composeFile: projectFile })).to.equal(path.join(REPO_ROOT, 'docker-compose.yml'));
    expect(existsSync(composeFileOf({ projectDir: dir, composeFile: projectFile }))).to.equal(true);
    writeFileSync(projectFile, 'services: {}\n');
    expect(composeFileOf({ projectDir: dir, composeFile: projectFile })).to.equal(projectFile);
    const other = path.join(dir, 'db.compose.yml');
    expect(composeFileOf({ projectDir: dir, composeFile: other })).to.equal(other);
  });
});
