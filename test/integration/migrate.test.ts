import { expect } from 'chai';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createContext, type TaskContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { freePort } from '../../tasks/providers/free-port';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, STARTER_MIGRATIONS as STARTER, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

describe('migrate against a real server', function () {
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
    project = createTestProject();
    project.addMigrations('starter');
  });
  after(async () => {
    await server?.stop();
    project?.remove();
  });

  /** Runs ensureEnv → waitDb → migrate as `gulp migrate <argv>` would, against `url`. */
  async function migrate(url: string, argv: string[] = [], from: TestProject = project): Promise<{ logger: RecordingLogger; ctx: TaskContext }> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate', ...argv], cwd: from.dir });
    await createEnsureEnvTask(ctx)();
    await createWaitDbTask(ctx)();
    await createMigrateTask(ctx)();
    return { logger, ctx };
  }
  async function migrateFailure(url: string, argv: string[] = [], from?: TestProject): Promise<TaskError> {
    try {
      await migrate(url, argv, from);
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    throw new Error('expected the migration to fail');
  }
  const ledger = async (url: string) => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  const infoLines = (logger: RecordingLogger) => logger.lines.filter((line) => line.startsWith('info:')).map((line) => line.replace(/\d+ ms/g, 'N ms'));

  describe('the starter schema', () => {
    let url: string;
    before(async () => {
      url = await server.freshDatabase('starter');
    });

    it('applies every migration, one line each and a summary', async () => {
      const { logger } = await migrate(url);
      expect(infoLines(logger).slice(1)).to.deep.equal([...STARTER.map((name) => `info:   ↑ ${name} (N ms)`), 'info: Applied 5 migrations in N ms']);
      expect(infoLines(logger)[0]).to.match(/^info: Database ready: contentuser@127\.0\.0\.1:\d+\/starter \(N ms\)$/);
      expect(await ledger(url)).to.deep.equal(STARTER);
      expect(await tableNames(url)).to.deep.equal(['content', 'content_tags', 'pgmigrations', 'pgmt_migration_checksums', 'tags', 'users']);
    });

    it('says it is up to date when nothing is pending', async () => {
      const { logger } = await migrate(url);
      expect(infoLines(logger).at(-1)).to.equal('info: Already up to date: no pending migrations');
    });

    it('rolls back exactly the last migration with --direction down --count 1', async () => {
      const { logger } = await migrate(url, ['--direction', 'down', '--count', '1']);
      expect(infoLines(logger).slice(-2)).to.deep.equal(['info:   ↓ 1732500004000_create_tags (N ms)', 'info: Rolled back 1 migration in N ms']);
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 4));
      expect(await tableNames(url)).to.deep.equal(['content', 'pgmigrations', 'pgmt_migration_checksums', 'users']);
    });

    it('rolls back one by default, and everything with --count all', async () => {
      await migrate(url, ['--direction', 'down']);
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 3));
      const { logger } = await migrate(url, ['--direction', 'down', '--count', 'all']);
      expect(infoLines(logger).at(-1)).to.equal('info: Rolled back 3 migrations in N ms');
      expect(await tableNames(url)).to.deep.equal(['pgmigrations', 'pgmt_migration_checksums']);
      expect(await query(url, 'SELECT name FROM pgmt_migration_checksums')).to.deep.equal([]);
      const types = await query(url, "SELECT typname FROM pg_type WHERE typname IN ('content_type', 'visibility')");
      expect(types).to.deep.equal([]);
    });

    it('--direction down on a database never migrated: nothing to roll back, and no ledger table is made', async () => {
      const empty = await server.freshDatabase('never_migrated');
      const { logger } = await migrate(empty, ['--direction', 'down']);
      expect(infoLines(logger).at(-1)).to.equal('info: Nothing to roll back: no migration is applied');
      // Before, node-pg-migrate's runner created public.pgmigrations on the way.
      expect(await tableNames(empty)).to.deep.equal([]);
    });

    it('keeps updated_at current through the trigger after a full re-apply', async () => {
      await migrate(url);
      const [row] = await query<{ changed: boolean }>(
        url,
        `WITH u AS (INSERT INTO users (email, display_name) VALUES ('a@example.com', 'A') RETURNING id, updated_at)
         SELECT 1 FROM u`,
      ).then(() =>
        query<{ changed: boolean }>(
          url,
          "UPDATE users SET display_name = 'B', updated_at = '2000-01-01' WHERE email = 'a@example.com' RETURNING updated_at > '2001-01-01' AS changed",
        ),
      );
      expect(row).to.deep.equal({ changed: true });
    });
  });

  describe('a migration that fails halfway through a batch', () => {
    let failing: TestProject;
    before(() => {
      failing = createTestProject();
      failing.addMigrations('failing');
    });
    after(() => failing.remove());

    it('leaves the database exactly as before in single-transaction mode, naming the migration and the SQL', async () => {
      const url = await server.freshDatabase('failing_single');
      const error = await migrateFailure(url, [], failing);
      expect(error.message).to.match(/^migration 1000000000002_fails_halfway failed \(up\): relation "no_such_table" does not exist\n/);
      expect(error.message).to.include('INSERT INTO no_such_table VALUES (1)');
      expect(error.message).to.include('Single transaction: the whole run was rolled back; the database is as it was before.');
      expect(error.hint).to.equal('fix 1000000000002_fails_halfway in migrations/, then run the command again');
      expect(await tableNames(url)).to.deep.equal(['pgmigrations']);
      expect(await ledger(url)).to.deep.equal([]);
    });

    it('keeps the migrations before it with --no-single-transaction', async () => {
      const url = await server.freshDatabase('failing_each');
      const error = await migrateFailure(url, ['--no-single-transaction'], failing);
      expect(error.message).to.include('It was rolled back; the 1 migration(s) before it stay applied (--no-single-transaction).');
      expect(await tableNames(url)).to.deep.equal(['alpha', 'pgmigrations', 'pgmt_migration_checksums']);
      expect(await ledger(url)).to.deep.equal(['1000000000001_create_alpha']);
      expect(await query(url, 'SELECT name FROM pgmt_migration_checksums')).to.deep.equal([{ name: '1000000000001_create_alpha' }]);
    });
  });

  it('refuses a new migration older than the applied ones, naming both and the fix', async () => {
    const url = await server.freshDatabase('out_of_order');
    await migrate(url);
    project.writeFile('migrations/1732400000000_late_arrival.ts', 'export const up = () => undefined;\nexport const down = () => undefined;\n');
    try {
      const error = await migrateFailure(url);
      expect(error.message).to.equal(
        'migration 1732400000000_late_arrival is older than 1732500000000_enable_pgcrypto, which is already applied (out of order)\n' +
          '  hint: give 1732400000000_late_arrival a newer timestamp prefix than every applied migration (rename the file in migrations/), then run the command again',
      );
    } finally {
      rmSync(path.join(project.migrationsDir, '1732400000000_late_arrival.ts'));
    }
  });

  it('names an applied migration whose file was deleted, instead of blaming the next file', async () => {
    const url = await server.freshDatabase('deleted_file');
    await migrate(url);
    const file = path.join(project.migrationsDir, '1732500002000_create_users.ts');
    const content = readFileSync(file);
    rmSync(file);
    try {
      const error = await migrateFailure(url, ['--no-lint']);
      expect(error.message).to.equal(
        'migration 1732500002000_create_users is applied, but its file is missing from migrations/\n' +
          '  hint: restore it from version control (`git log --diff-filter=D --name-only -- migrations/`); `gulp migrate:status` lists every missing file',
      );
    } finally {
      writeFileSync(file, content);
    }
  });

  it('explains "relation already exists" as a half-applied migration and what to run', async () => {
    const url = await server.freshDatabase('half_applied');
    await query(url, 'CREATE TABLE users (id integer)');
    const error = await migrateFailure(url, ['--count', 'all']);
    expect(error.message).to.match(/^migration 1732500002000_create_users failed: relation "users" already exists/);
    expect(error.hint).to.equal(
      'part of 1732500002000_create_users is already in the database (a half-applied migration: an earlier run outside these tasks, or a migration that ran outside a transaction, pgm.noTransaction(), and failed halfway): drop the objects it already created (named above) by hand, then run again',
    );
    expect(await ledger(url)).to.deep.equal([]);
  });

  it('fails at once on a wrong password with the credentials hint, never printing the password', async () => {
    const url = await server.freshDatabase('auth');
    const wrong = url.replace(/:[^:@/]+@/, ':not-the-password@');
    const started = performance.now();
    const error = await migrateFailure(wrong);
    expect(performance.now() - started).to.be.lessThan(5_000);
    expect(error.message).to.match(/^password authentication failed for user "contentuser" at 127\.0\.0\.1:\d+\n {2}hint: check DB_PASSWORD/);
    expect(error.message).not.to.include('not-the-password');
  });

  it('gives up on a refused connection after --timeout, saying what it saw last and what to do', async () => {
    const closedPort = await freePort();
    const started = performance.now();
    const error = await migrateFailure(`postgresql://contentuser:pw@127.0.0.1:${closedPort}/contenthub`, ['--timeout', '0.5']);
    expect(performance.now() - started).to.be.within(450, 3_000);
    expect(error.message).to.equal(
      `gave up waiting for the database after 0.5 s: connection refused at 127.0.0.1:${closedPort}\n` +
        '  hint: is the server up and listening there? Start one with `gulp db:start` (or `docker compose up -d postgres`), or check DB_HOST/DB_PORT',
    );
  });

  it('says once that it is waiting, when the database does not answer within a second', async () => {
    const closedPort = await freePort();
    const logger = createRecordingLogger();
    const env = { DATABASE_URL: `postgresql://contentuser:pw@127.0.0.1:${closedPort}/contenthub` };
    const ctx = createContext({ logger, env, argv: ['migrate', '--timeout', '3'], cwd: project.dir });
    await createEnsureEnvTask(ctx)();
    let now = 0;
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const failure = await createWaitDbTask(ctx, { clock })().catch((error: Error) => error);
    expect((failure as Error).message).to.match(/^gave up waiting for the database after 3 s: connection refused/);
    expect(logger.lines.filter((line) => line.includes('Waiting'))).to.deep.equal([
      `info: Waiting for the database (connection refused at 127.0.0.1:${closedPort} so far; giving up after 3 s)`,
    ]);
  });

  it('names a missing migrations folder and how to point at the right one', async () => {
    const url = await server.freshDatabase('no_folder');
    const error = await migrateFailure(url, ['--migrations-dir', 'no-such-folder']);
    expect(error.message).to.equal(
      'migrations folder no-such-folder/ does not exist\n  hint: create it and add a migration, or point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them',
    );
  });
});
