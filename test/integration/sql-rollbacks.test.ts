import { expect } from 'chai';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createRedoTask } from '../../tasks/gulp/steps/redo';
import { createStatusTask, type StatusDocument } from '../../tasks/gulp/steps/status';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

const EXTENSIONS = '1732700000000_enable_extensions';
const DOCUMENTS = '1732700001000_create_documents';
const LABELS = '1732700002000_create_labels';

describe('plain SQL migrations with rollbacks in down/ (and <name>.down.sql), beside files that are not migrations', function () {
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server?.stop());
  beforeEach(() => {
    project = createTestProject();
    project.addMigrations('sql-down');
  });
  afterEach(() => project.remove());

  /** Runs ensureEnv → task as `gulp <argv>` would. */
  async function run(url: string, argv: string[], task = createMigrateTask): Promise<RecordingLogger> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url, NO_COLOR: '1' }, argv, cwd: project.dir });
    await createEnsureEnvTask(ctx, { migrates: true })();
    await task(ctx)();
    return logger;
  }
  const ledger = async (url: string) => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  const extensions = async (url: string) =>
    (await query<{ name: string }>(url, "SELECT extname AS name FROM pg_extension WHERE extname IN ('uuid-ossp', 'pg_trgm') ORDER BY 1")).map(
      (row) => row.name,
    );

  it('up, down all, up: the rollbacks come from down/ and <name>.down.sql; other files are skipped with one notice', async () => {
    const url = await server.freshDatabase('sql_down_cycle');
    const up = await run(url, ['migrate']);
    expect(up.text()).to.include(
      'info: Skipped 3 entries of migrations/ that are not migrations: .eslintrc.js, README.md, package.json (--ignore-pattern changes what is skipped)',
    );
    expect(await ledger(url)).to.deep.equal([EXTENSIONS, DOCUMENTS, LABELS]);
    expect(await tableNames(url)).to.include.members(['documents', 'labels']);
    expect(await extensions(url)).to.deep.equal(['pg_trgm', 'uuid-ossp']);
    await query(url, "INSERT INTO documents (title) VALUES ('migrations in plain sql')");
    expect(await query(url, "SELECT count(*)::int AS n FROM documents WHERE title % 'migration in plain sql'")).to.deep.equal([{ n: 1 }]);

    await run(url, ['migrate', '--direction', 'down', '--count', 'all']);
    expect(await ledger(url)).to.deep.equal([]);
    expect(await tableNames(url)).to.deep.equal(['pgmigrations', 'pgmt_migration_checksums']);
    expect(await extensions(url)).to.deep.equal([]);

    await run(url, ['migrate']);
    expect(await ledger(url)).to.deep.equal([EXTENSIONS, DOCUMENTS, LABELS]);
  });

  it('redo re-runs the newest through its rollback file; status lists down/ and the .down.sql as rollbacks, nothing as blocking', async () => {
    const url = await server.freshDatabase('sql_down_redo');
    await run(url, ['migrate']);
    const redo = await run(url, ['migrate:redo'], createRedoTask);
    expect(redo.text()).to.match(new RegExp(`↓ ${LABELS}[\\s\\S]*↑ ${LABELS}`));
    expect(await ledger(url)).to.deep.equal([EXTENSIONS, DOCUMENTS, LABELS]);

    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate:status', '--json'], cwd: project.dir });
    let printed = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stdout.write;
    try {
      await createEnsureEnvTask(ctx)();
      await createStatusTask(ctx)();
    } finally {
      process.stdout.write = write;
    }
    const status = JSON.parse(printed) as StatusDocument;
    expect(status.migrations.map((migration) => migration.state)).to.deep.equal(['applied', 'applied', 'applied']);
    const ignored = Object.fromEntries(status.ignoredFiles.map((file) => [file.file, file]));
    expect(ignored['down/']).to.deep.include({ blocksMigrate: false });
    expect(ignored['down/']!.reason).to.match(/^the rollbacks of \.sql migrations/);
    expect(ignored[`${LABELS}.down.sql`]).to.deep.equal({ file: `${LABELS}.down.sql`, reason: `the rollback of ${LABELS}.sql`, blocksMigrate: false });
    expect(ignored['package.json']).to.deep.equal({
      file: 'package.json',
      reason: 'not a migration (no numeric timestamp prefix): skipped',
      blocksMigrate: false,
    });
  });

  it('refuses to roll back a .sql migration without any rollback before touching the database, naming both ways', async () => {
    const url = await server.freshDatabase('sql_down_missing');
    await run(url, ['migrate']);
    rmSync(path.join(project.migrationsDir, `${LABELS}.down.sql`));
    const error = await run(url, ['migrate', '--direction', 'down']).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message).to.include(
      `migrations/${LABELS}.sql has no rollback, so nothing was rolled back: no "-- Down Migration" section, ` +
        `and no migrations/down/${LABELS}.sql or migrations/${LABELS}.down.sql`,
    );
    expect((error as TaskError).hint).to.equal(
      `write the SQL that undoes it in migrations/down/${LABELS}.sql (or after a "-- Down Migration" line in the file), then run the command again`,
    );
    expect(await ledger(url)).to.deep.equal([EXTENSIONS, DOCUMENTS, LABELS]);
    expect(await tableNames(url)).to.include('labels');
    // The dry run says the same, instead of calling the file irreversible.
    const dryRun = await run(url, ['migrate', '--direction', 'down', '--dry-run']).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect((dryRun as TaskError).message).to.include(`migrations/${LABELS}.sql has no rollback`);
  });

  it('--ignore-pattern replaces the default: what it matches is skipped, and the rest must be migrations', async () => {
    const url = await server.freshDatabase('sql_down_pattern');
    writeFileSync(path.join(project.migrationsDir, '1732700003000_draft.sql'), 'CREATE TABLE draft (id int);\n');
    const logger = await run(url, ['migrate', '--ignore-pattern', '(?:\\..*|.*_draft\\.sql|.*\\.down\\.sql|README\\.md|package\\.json)']);
    expect(await ledger(url)).to.deep.equal([EXTENSIONS, DOCUMENTS, LABELS]);
    expect(logger.text()).to.include(
      'Skipped 5 entries of migrations/ that are not migrations: .eslintrc.js, 1732700002000_create_labels.down.sql, 1732700003000_draft.sql, README.md, package.json',
    );
  });
});
