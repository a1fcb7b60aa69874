import { expect } from 'chai';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { hashMigrationFileSync } from '../../tasks/db/checksums';
import { runMigrations } from '../../tasks/engine/run-migrations';
import { resolveSettings } from '../../tasks/settings/settings';
import { sqlLoaderStrategies } from '../../tasks/sources/sql-rollbacks';
import { TaskError } from '../../tasks/util/errors';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

/** SQL, TypeScript of several statements, a pgm.noTransaction() one, one that queries the database, then more of each. */
const MIXED: Record<string, string> = {
  '1400000000001_create_items.sql':
    "-- Up Migration\nCREATE TABLE items (id integer PRIMARY KEY, name text);\nINSERT INTO items VALUES (1, 'one'), (2, 'two');\n\n-- Down Migration\nDROP TABLE items;\n",
  '1400000000002_items_columns.ts': `export const up = (pgm: any) => {
  pgm.addColumn('items', { price: { type: 'integer', notNull: true, default: 0 } });
  pgm.createIndex('items', 'price');
  pgm.sql("COMMENT ON TABLE items IS 'it''s for sale'");
};
export const down = (pgm: any) => pgm.dropColumn('items', 'price');
`,
  '1400000000003_index_concurrently.ts': `export const up = (pgm: any) => {
  pgm.noTransaction();
  pgm.createIndex('items', 'name', { concurrently: true });
};
export const down = (pgm: any) => pgm.dropIndex('items', 'name');
`,
  '1400000000004_count_items.ts': `export const up = async (pgm: any) => {
  const { rows } = await pgm.db.query('SELECT count(*)::int AS n FROM items');
  pgm.createTable('counted_' + rows[0].n, { id: 'integer' });
};
export const down = false;
`,
  '1400000000005_after.sql': '-- Up Migration\nCREATE TABLE after_all (id integer);\n',
  '1400000000006_more.ts': `export const up = (pgm: any) => {
  pgm.createTable('more', { id: 'id', item_id: { type: 'integer', references: 'items' } });
};
`,
};

describe('migrate up in batches, beside node-pg-migrate’s runner', function () {
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    project = createTestProject();
  });
  afterEach(() => project.remove());

  function write(files: Record<string, string>): void {
    mkdirSync(project.migrationsDir, { recursive: true });
    for (const [file, content] of Object.entries(files)) project.writeFile(path.join('migrations', file), content);
  }
  async function migrate(url: string, argv: string[] = [], direction: 'up' | 'down' = 'up', count = Number.POSITIVE_INFINITY) {
    const logger = createRecordingLogger();
    const settings = resolveSettings({ env: { DATABASE_URL: url }, argv, cwd: project.dir });
    const ran = await runMigrations({ settings, url, direction, count, logger });
    return { ran, logger };
  }
  async function failure(url: string, argv: string[] = []): Promise<TaskError> {
    try {
      await migrate(url, argv);
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    throw new Error('expected the run to fail');
  }
  /** The same folder through node-pg-migrate's own runner, as its CLI would run it. */
  async function nodePgMigrate(url: string, singleTransaction: boolean): Promise<void> {
    const { runner } = await import('node-pg-migrate/runner');
    await runner({
      databaseUrl: url,
      dir: project.migrationsDir,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      count: Number.POSITIVE_INFINITY,
      singleTransaction,
      checkOrder: true,
      migrationLoaderStrategies: (await sqlLoaderStrategies()) as never,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
  }
  /** The ledger as a user compares it: ids, names, and which rows share a transaction (the same run_on). */
  async function ledger(url: string) {
    // run_on as text: microseconds (a Date keeps milliseconds, and two transactions can fall in the same one).
    const rows = await query<{ id: number; name: string; run_on: string }>(url, 'SELECT id, name, run_on::text FROM pgmigrations ORDER BY run_on, id');
    return rows.map((row, index) => ({ id: row.id, name: row.name, sameTransactionAsPrevious: index > 0 && row.run_on === rows[index - 1]!.run_on }));
  }
  const schema = (url: string) =>
    query(
      url,
      "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname NOT LIKE 'pgmt%' ORDER BY 1",
    );
  const lines = (logger: RecordingLogger) => logger.lines.filter((line) => !line.startsWith('debug:')).map((line) => line.replace(/\d+ ms/g, 'N ms'));

  for (const mode of ['single transaction', '--no-single-transaction'] as const) {
    it(`applies a mixed folder with the same ledger rows and schema as node-pg-migrate's runner (${mode})`, async () => {
      write(MIXED);
      const single = mode === 'single transaction';
      const [ours, theirs] = [await server.freshDatabase(`mixed_ours_${single}`), await server.freshDatabase(`mixed_theirs_${single}`)];
      const { ran, logger } = await migrate(ours, single ? [] : ['--no-single-transaction']);
      await nodePgMigrate(theirs, single);

      const names = Object.keys(MIXED).map((file) => path.parse(file).name);
      expect(ran.map((migration) => migration.name)).to.deep.equal(names);
      expect(await ledger(ours)).to.deep.equal(await ledger(theirs));
      // One transaction, broken by the noTransaction migration as node-pg-migrate breaks it; or one per migration.
      expect((await ledger(ours)).map((row) => row.sameTransactionAsPrevious)).to.deep.equal(
        single ? [false, true, false, false, true, true] : [false, false, false, false, false, false],
      );
      expect(await schema(ours)).to.deep.equal(await schema(theirs));
      expect(await query(ours, "SELECT obj_description('items'::regclass) AS comment")).to.deep.equal([{ comment: "it's for sale" }]);
      expect(await query(ours, 'SELECT name, sha256 FROM pgmt_migration_checksums ORDER BY name')).to.deep.equal(
        readdirSync(project.migrationsDir)
          .sort()
          .map((file) => ({ name: path.parse(file).name, sha256: hashMigrationFileSync(path.join(project.migrationsDir, file)) })),
      );
      expect(lines(logger)).to.deep.equal([
        ...names.slice(0, 2).map((name) => `info:   ↑ ${name} (N ms)`),
        'warn: 1400000000003_index_concurrently runs outside the transaction (pgm.noTransaction()): a failure after it cannot undo it',
        ...names.slice(2).map((name) => `info:   ↑ ${name} (N ms)`),
      ]);
    });
  }

  it('names the migration and the statement that failed in the middle of a batch, and leaves nothing (single transaction)', async () => {
    write({
      '1500000000001_first.sql': '-- Up Migration\nCREATE TABLE first (id integer);\n',
      '1500000000002_breaks.ts': `export const up = (pgm: any) => {
  pgm.createTable('second', { id: 'integer' });
  pgm.sql('INSERT INTO second SELECT 1 / count(*)::int FROM first');
};
`,
      '1500000000003_later.sql': '-- Up Migration\nCREATE TABLE later (id integer);\n',
    });
    const url = await server.freshDatabase('fails_mid_batch');
    const error = await failure(url);
    expect(error.message).to.match(/^migration 1500000000002_breaks failed \(up\): division by zero\n/);
    // The statement that failed (the second of the migration), not the first.
    expect(error.message).to.include('    INSERT INTO second SELECT 1 / count(*)::int FROM first;\n');
    expect(error.message).not.to.include('CREATE TABLE');
    expect(error.message).to.include('Single transaction: the whole run was rolled back; the database is as it was before.');
    expect(error.hint).to.equal('fix 1500000000002_breaks in migrations/, then run the command again');
    expect(await tableNames(url)).to.deep.equal(['pgmigrations']);
    expect(await query(url, 'SELECT name FROM pgmigrations')).to.deep.equal([]);
  });

  it('points at the failing position of a statement in a batch, as node-pg-migrate does', async () => {
    write({
      '1500000000001_first.sql': '-- Up Migration\nCREATE TABLE first (id integer);\n',
      '1500000000002_typo.sql': '-- Up Migration\nCREATE TABLE second (id integer);\nINSERT INTO secnod VALUES (1);\n',
    });
    const url = await server.freshDatabase('fails_at_position');
    const error = await failure(url);
    expect(error.message).to.match(/^migration 1500000000002_typo failed \(up\): relation "secnod" does not exist\n/);
    // The caret under the position in the statement, as node-pg-migrate's runner prints it for the same file.
    expect(error.message).to.include('    CREATE TABLE second (id integer);\n    INSERT INTO secnod VALUES (1);\n                ^^^^\n');
    expect(error.message).not.to.include('CREATE TABLE first');
    expect(error.message).to.include('Single transaction: the whole run was rolled back; the database is as it was before.');
    expect(await tableNames(url)).to.deep.equal(['pgmigrations']);
  });

  it('names a migration that throws while the runner applies it, after a batch', async () => {
    write({
      '1700000000001_ok.sql': '-- Up Migration\nCREATE TABLE ok (id integer);\n',
      '1700000000002_throws.ts': "export const up = async (pgm: any) => {\n  await pgm.db.query('SELECT 1');\n  throw new Error('no way');\n};\n",
    });
    const url = await server.freshDatabase('throws_in_runner');
    const error = await failure(url);
    expect(error.message).to.match(/^migration 1700000000002_throws failed \(up\): no way\n/);
    expect(await tableNames(url)).to.deep.equal(['pgmigrations']);
  });

  it('records a file name with an apostrophe as it is, batched or through the runner, and rolls it back', async () => {
    write({
      "1600000000001_fix_user's_email.sql": '-- Up Migration\nCREATE TABLE emails (address text);\n\n-- Down Migration\nDROP TABLE emails;\n',
      "1600000000002_count_user's_emails.ts": `export const up = async (pgm: any) => {
  await pgm.db.query('SELECT 1');
  pgm.createTable('email_counts', { n: 'integer' });
};
export const down = (pgm: any) => pgm.dropTable('email_counts');
`,
      "1600000000003_it's', now()); DROP TABLE emails; --.sql": '-- Up Migration\nSELECT 1;\n\n-- Down Migration\nSELECT 1;\n',
    });
    const url = await server.freshDatabase('apostrophes');
    await migrate(url);
    const names = ["1600000000001_fix_user's_email", "1600000000002_count_user's_emails", "1600000000003_it's', now()); DROP TABLE emails; --"];
    expect((await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY id')).map((row) => row.name)).to.deep.equal(names);
    expect((await query<{ name: string }>(url, 'SELECT name FROM pgmt_migration_checksums ORDER BY name')).map((row) => row.name)).to.deep.equal(names);
    expect(await tableNames(url)).to.deep.equal(['email_counts', 'emails', 'pgmigrations', 'pgmt_migration_checksums']);

    await migrate(url, [], 'down', 3);
    expect(await query(url, 'SELECT name FROM pgmigrations')).to.deep.equal([]);
    expect(await tableNames(url)).to.deep.equal(['pgmigrations', 'pgmt_migration_checksums']);
  });
});
