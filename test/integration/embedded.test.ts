import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { Cleanups } from '../../tasks/util/cleanups';
import { resolveSettings } from '../../tasks/settings/settings';
import { embeddedProvider } from '../../tasks/providers/embedded';
import type { StartedDatabase } from '../../tasks/providers/types';
import { query, serverProcessesFor } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger } from '../support/recording-logger';

describe('embedded provider', () => {
  const password = 'p@ss:w/rd?#% ünï';
  let project: TestProject;
  let database: StartedDatabase;
  let cleanups: Cleanups;
  before(async () => {
    project = createTestProject();
    cleanups = new Cleanups();
    const config = resolveSettings({
      env: { DB_NAME: 'hub', DB_USER: 'hub_owner', DB_PASSWORD: password },
      argv: [],
      cwd: project.dir,
      startsDatabase: true,
    });
    database = await embeddedProvider.start(config, { logger: createRecordingLogger(), cleanups, secrets: new Set() });
  });
  after(async () => {
    await database?.stop();
    project?.remove();
  });

  it('creates the role and database named by DB_USER / DB_NAME, with a password full of special characters', async () => {
    const [row] = await query(database.url, 'SELECT current_user AS role, current_database() AS db');
    expect(row).to.deep.equal({ role: 'hub_owner', db: 'hub' });
    const [owner] = await query(database.url, 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()');
    expect(owner).to.deep.equal({ owner: 'hub_owner' });
  });

  // Listening on 127.0.0.1 only, scram passwords, the private temp dir and the server's OS user: test/reliability/security.test.ts.

  it('stops the server and removes its temp dir, and stopping twice is harmless', async () => {
    const tempDir = database.keptState!.tempDir!;
    expect(serverProcessesFor(tempDir)).to.have.length.greaterThan(0);
    await database.stop();
    await database.stop();
    expect(existsSync(tempDir)).to.equal(false);
    expect(serverProcessesFor(tempDir)).to.deep.equal([]);
    expect(cleanups.size, 'the provider left a cleanup registered after a successful start').to.equal(0);
  });
});
