import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger } from '../support/recording-logger';

const CREATE_TABLE = `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => { pgm.createTable('t', { id: 'integer', v: 'integer' }); };
export const down = (pgm: MigrationBuilder): void => { pgm.dropTable('t'); };
`;
const INDEX_EXISTING_TABLE = `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => { pgm.createIndex('t', 'v'); };
export const down = (pgm: MigrationBuilder): void => { pgm.dropIndex('t', 'v'); };
`;
const ADD_TABLE = `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => { pgm.createTable('u', { id: 'integer' }); };
export const down = (pgm: MigrationBuilder): void => { pgm.dropTable('u'); };
`;

describe('the lint pre-flight of migrate', () => {
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
    project = createTestProject();
  });
  after(async () => {
    await server?.stop();
    project?.remove();
  });

  async function migrate(url: string, argv: string[] = []): Promise<void> {
    const ctx = createContext({ logger: createRecordingLogger(), env: { DATABASE_URL: url }, argv: ['migrate', ...argv], cwd: project.dir });
    await createEnsureEnvTask(ctx, { migrates: true })();
    await createMigrateTask(ctx)();
  }

  it('refuses a pending migration with an unsafe statement, and judges applied ones only on whether they load', async () => {
    const url = await server.freshDatabase('preflight');
    mkdirSync(project.migrationsDir);
    project.writeFile('migrations/1000000000001_create_t.ts', CREATE_TABLE);
    project.writeFile('migrations/1000000000002_index_t.ts', INDEX_EXISTING_TABLE);
    await migrate(url, ['--count', '1']);

    const refused = await migrate(url).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(TaskError);
    expect((refused as TaskError).message).to.match(/^lint found 1 error in migrations\/, so nothing was migrated:\n/);
    expect((refused as TaskError).message).to.include('create-index-not-concurrently');
    expect((await query(url, 'SELECT count(*)::int AS n FROM pgmigrations'))[0]).to.deep.equal({ n: 1 });

    // Applied anyway (a team's history): from then on it no longer blocks the migrations that come after it.
    await migrate(url, ['--no-lint']);
    project.writeFile('migrations/1000000000003_add_u.ts', ADD_TABLE);
    await migrate(url);
    expect((await query(url, 'SELECT count(*)::int AS n FROM pgmigrations'))[0]).to.deep.equal({ n: 3 });
  });
});
