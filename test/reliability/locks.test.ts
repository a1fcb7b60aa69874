import { expect } from 'chai';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createRedoTask } from '../../tasks/gulp/steps/redo';
import { takeSnapshot } from '../../tasks/db/schema-snapshot';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { query, startTestServer, type TestServer } from '../support/database';
import { BATCH_MIGRATIONS, createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

/** node-pg-migrate's run lock (its PG_MIGRATE_LOCK_ID). */
const RUN_LOCK_ID = '7241865325823964';
const BATCH = BATCH_MIGRATIONS;
const LOCK_HINT =
  'find the session holding the lock (listed above, or in pg_stat_activity) and let it finish or end it (SELECT pg_terminate_backend(PID)), ' +
  'or fix 1200000000010_add_accounts_note if it is at fault, or raise --lock-timeout; then run the command again';

/** Another session of the test, holding what `sql` takes inside an open transaction, as a forgotten psql would. */
interface Holder {
  pid: number;
  release(): Promise<void>;
}

async function holdInTransaction(url: string, sql: string): Promise<Holder> {
  const client = new Client({ connectionString: url, application_name: 'psql-left-open' });
  client.on('error', () => undefined);
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await client.query('BEGIN');
  await client.query(sql);
  return {
    pid,
    release: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

describe('locks and timeouts (real server)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
    project = createTestProject();
    project.addMigrations('batch');
  });
  after(async () => {
    await server?.stop();
    project?.remove();
  });

  async function run(task: 'migrate' | 'redo', url: string, argv: string[] = [], env: Record<string, string> = {}): Promise<RecordingLogger> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url, ...env }, argv: [task === 'redo' ? 'migrate:redo' : 'migrate', ...argv], cwd: project.dir });
    await createEnsureEnvTask(ctx, { migrates: true })();
    await createWaitDbTask(ctx)();
    await (task === 'redo' ? createRedoTask(ctx) : createMigrateTask(ctx))();
    return logger;
  }
  async function failure(
    task: 'migrate' | 'redo',
    url: string,
    argv: string[] = [],
    env: Record<string, string> = {},
  ): Promise<{ error: TaskError; logger: RecordingLogger }> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url, ...env }, argv: [task === 'redo' ? 'migrate:redo' : 'migrate', ...argv], cwd: project.dir });
    try {
      await createEnsureEnvTask(ctx, { migrates: true })();
      await createWaitDbTask(ctx)();
      await (task === 'redo' ? createRedoTask(ctx) : createMigrateTask(ctx))();
    } catch (error) {
      expect(error, String(error)).to.be.instanceOf(TaskError);
      return { error: error as TaskError, logger };
    }
    throw new Error(`expected ${task} ${argv.join(' ')} to fail`);
  }
  const ledger = async (url: string) => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  /** Schema, ledger and data: what "exactly as before" means. */
  const state = async (url: string) => ({
    schema: await takeSnapshot(url),
    ledger: await ledger(url),
    accounts: await query(url, 'SELECT * FROM accounts ORDER BY id'),
  });
  /** Ages change from run to run. */
  const steady = (message: string) => message.replace(/ for \d+ (ms|s|min);/g, ' for N;');

  describe('--lock-timeout', () => {
    it('stops a migration blocked by a forgotten transaction, names the blocker, and rolls the whole run back', async () => {
      const url = await server.freshDatabase('lock_single');
      await run('migrate', url, ['--count', '5']);
      const before = await state(url);
      const holder = await holdInTransaction(url, 'LOCK TABLE accounts IN SHARE MODE');
      try {
        const { error } = await failure('migrate', url, ['--lock-timeout', '500ms']);
        expect(steady(error.message)).to.equal(
          'migration 1200000000010_add_accounts_note (up) was stopped by --lock-timeout 500 ms (lock_timeout): it waited longer than that for a lock another session holds\n' +
            '    ALTER TABLE "accounts"\n' +
            '      ADD "note" text;\n' +
            'Sessions holding locks in an open transaction (the likely blocker):\n' +
            `    PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; holds accounts (ShareLock); last query: LOCK TABLE accounts IN SHARE MODE)\n` +
            'Single transaction: the whole run was rolled back; the database is as it was before.\n' +
            `  hint: ${LOCK_HINT}`,
        );
      } finally {
        await holder.release();
      }
      // Migrations 6–9 ran in the same transaction before 10 blocked: none of them is kept.
      expect(await state(url)).to.deep.equal(before);
    });

    it('with --no-single-transaction keeps the migrations before the blocked one, and only those', async () => {
      const url = await server.freshDatabase('lock_each');
      await run('migrate', url, ['--count', '5']);
      const holder = await holdInTransaction(url, 'LOCK TABLE accounts IN SHARE MODE');
      try {
        const { error } = await failure('migrate', url, ['--lock-timeout', '1s', '--no-single-transaction']);
        expect(error.message).to.match(/^migration 1200000000010_add_accounts_note \(up\) was stopped by --lock-timeout 1 s \(lock_timeout\)/);
        expect(error.message).to.include('It was rolled back; the 4 migration(s) before it stay applied (--no-single-transaction).');
      } finally {
        await holder.release();
      }
      expect(await ledger(url)).to.deep.equal(BATCH.slice(0, 9));
      const columns = await query(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY 1");
      expect(columns).to.deep.equal([{ column_name: 'email' }, { column_name: 'id' }, { column_name: 'status' }]);
    });

    it('reads DB_LOCK_TIMEOUT, and says so', async () => {
      const url = await server.freshDatabase('lock_env');
      await run('migrate', url, ['--count', '9']);
      const holder = await holdInTransaction(url, 'SELECT count(*) FROM accounts');
      try {
        const { error } = await failure('migrate', url, [], { DB_LOCK_TIMEOUT: '300' });
        expect(steady(error.message)).to.include(
          'was stopped by DB_LOCK_TIMEOUT 300 ms (lock_timeout): it waited longer than that for a lock another session holds\n' +
            '    ALTER TABLE "accounts"\n' +
            '      ADD "note" text;\n' +
            'Sessions holding locks in an open transaction (the likely blocker):\n' +
            `    PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; holds accounts (AccessShareLock); last query: SELECT count(*) FROM accounts)\n`,
        );
      } finally {
        await holder.release();
      }
      expect(await ledger(url)).to.deep.equal(BATCH.slice(0, 9));
    });

    it("names the server's lock_timeout when the run set none", async () => {
      const url = await server.freshDatabase('lock_server');
      await run('migrate', url, ['--count', '9']);
      await query(server.database.superuserUrl!, "ALTER DATABASE lock_server SET lock_timeout = '300ms'");
      const holder = await holdInTransaction(url, 'LOCK TABLE accounts IN SHARE MODE');
      try {
        const { error } = await failure('migrate', url);
        expect(error.message).to.match(
          /^migration 1200000000010_add_accounts_note \(up\) was stopped by the server's lock_timeout \(set for the role or database; this run set none\): it waited/,
        );
      } finally {
        await holder.release();
      }
    });

    it('applies to migrate:redo: the blocked rollback changes nothing', async () => {
      const url = await server.freshDatabase('lock_redo');
      await run('migrate', url);
      const before = await state(url);
      const holder = await holdInTransaction(url, 'LOCK TABLE accounts IN SHARE MODE');
      try {
        const { error } = await failure('redo', url, ['--lock-timeout', '300ms']);
        expect(error.message).to.match(/^migration 1200000000010_add_accounts_note \(down\) was stopped by --lock-timeout 300 ms \(lock_timeout\)/);
        expect(error.message).to.include(`    PID ${holder.pid} (psql-left-open`);
      } finally {
        await holder.release();
      }
      expect(await state(url)).to.deep.equal(before);
    });

    it('without a blocker, the same flag changes nothing', async () => {
      const url = await server.freshDatabase('lock_free');
      const logger = await run('migrate', url, ['--lock-timeout', '500ms', '--statement-timeout', '10s']);
      expect(logger.lines.at(-1)).to.match(/^info: Applied 10 migrations in \d+ ms$/);
      expect(await ledger(url)).to.deep.equal(BATCH);
    });
  });

  describe('--statement-timeout', () => {
    let slow: TestProject;
    before(() => {
      slow = createTestProject();
      slow.addMigrations('batch', ['1200000000001_create_accounts.sql']);
      slow.writeFile(
        path.join('migrations', '1200000000002_backfill_slowly.sql'),
        '-- Up Migration\nCREATE TABLE backfill (id integer);\nSELECT pg_sleep(5);\n\n-- Down Migration\nDROP TABLE backfill;\n',
      );
    });
    after(() => slow.remove());

    it('stops a statement that runs too long, says which setting fired, and rolls back', async () => {
      const url = await server.freshDatabase('statement_timeout');
      const logger = createRecordingLogger();
      const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate', '--statement-timeout', '0.3s'], cwd: slow.dir });
      await createEnsureEnvTask(ctx, { migrates: true })();
      const error = await createMigrateTask(ctx)().then(
        () => expect.fail('expected the migration to time out'),
        (caught: unknown) => caught as TaskError,
      );
      expect(error.message).to.equal(
        'migration 1200000000002_backfill_slowly (up) was stopped by --statement-timeout 300 ms (statement_timeout): it ran longer than that\n' +
          '    -- Up Migration\n' +
          '    CREATE TABLE backfill (id integer);\n' +
          '    SELECT pg_sleep(5);\n' +
          '    ;\n' +
          'Single transaction: the whole run was rolled back; the database is as it was before.\n' +
          '  hint: make 1200000000002_backfill_slowly faster (or split it), or raise --statement-timeout; then run the command again',
      );
      expect(await query(url, "SELECT to_regclass('accounts') AS accounts, to_regclass('backfill') AS backfill")).to.deep.equal([
        { accounts: null, backfill: null },
      ]);
      expect(await ledger(url)).to.deep.equal([]);
    });
  });

  describe('the run lock (another migration running)', () => {
    it('--lock-mode fail (the default) refuses at once, naming the session that holds it, and changes nothing', async () => {
      const url = await server.freshDatabase('run_lock_fail');
      const holder = await holdInTransaction(url, `SELECT pg_advisory_lock(${RUN_LOCK_ID})`);
      try {
        const { error } = await failure('migrate', url);
        expect(steady(error.message)).to.equal(
          `another migration is running on this database (PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; last query: SELECT pg_advisory_lock(${RUN_LOCK_ID})))\n` +
            '  hint: wait for it to finish and run the command again, or pass `--lock-mode wait` to wait for it (up to --timeout); ' +
            `if no migration is running, that session is stuck: end it with SELECT pg_terminate_backend(${holder.pid})`,
        );
      } finally {
        await holder.release();
      }
      expect(await query(url, "SELECT to_regclass('pgmigrations') AS ledger")).to.deep.equal([{ ledger: null }]);
    });

    it('--lock-mode wait says once that it waits, and gives up after --timeout naming the holder', async () => {
      const url = await server.freshDatabase('run_lock_give_up');
      const holder = await holdInTransaction(url, `SELECT pg_advisory_lock(${RUN_LOCK_ID})`);
      try {
        const { error, logger } = await failure('migrate', url, ['--lock-mode', 'wait', '--timeout', '1']);
        expect(steady(error.message)).to.equal(
          `gave up after 1 s waiting for another migration run on this database to finish (PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; last query: SELECT pg_advisory_lock(${RUN_LOCK_ID})))\n` +
            '  hint: run the command again once it has finished, or wait longer with --timeout SECONDS (DB_WAIT_TIMEOUT); ' +
            `if that run is stuck, end its session: SELECT pg_terminate_backend(${holder.pid})`,
        );
        expect(logger.lines.filter((line) => line.includes('Waiting for another migration run')).map(steady)).to.deep.equal([
          `info: Waiting for another migration run on this database to finish (PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; last query: SELECT pg_advisory_lock(${RUN_LOCK_ID}))); giving up after 1 s`,
        ]);
      } finally {
        await holder.release();
      }
      expect(await query(url, "SELECT to_regclass('pgmigrations') AS ledger")).to.deep.equal([{ ledger: null }]);
    });

    it('--lock-mode wait (or DB_LOCK_MODE=wait) continues as soon as the other run releases the lock', async () => {
      const url = await server.freshDatabase('run_lock_wait');
      const holder = await holdInTransaction(url, `SELECT pg_advisory_lock(${RUN_LOCK_ID})`);
      const waiting = run('migrate', url, [], { DB_LOCK_MODE: 'wait' });
      // Released once the run is seen waiting for it in pg_locks.
      for (let waited = 0; ; waited += 50) {
        const [row] = await query<{ waiting: string }>(url, "SELECT count(*) AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        if (row!.waiting === '1') break;
        if (waited > 20_000) throw new Error('the run never waited for the lock');
        await sleep(50);
      }
      await holder.release();
      const logger = await waiting;
      expect(
        logger.lines
          .filter((line) => /Waiting for another|other migration run finished/.test(line))
          .map((line) => steady(line).replace(/waited \d+ ms/, 'waited N ms')),
      ).to.deep.equal([
        `info: Waiting for another migration run on this database to finish (PID ${holder.pid} (psql-left-open, user contentuser, idle in transaction for N; last query: SELECT pg_advisory_lock(${RUN_LOCK_ID}))); giving up after 30 s`,
        'info: The other migration run finished: continuing (waited N ms)',
      ]);
      expect(logger.lines.at(-1)).to.match(/^info: Applied 10 migrations in \d+ ms$/);
      expect(await ledger(url)).to.deep.equal(BATCH);
    });
  });
});
