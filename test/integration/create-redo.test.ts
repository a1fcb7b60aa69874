import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { createContext } from '../../tasks/gulp/context';
import { createCreateMigrationTask } from '../../tasks/gulp/steps/create-migration';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import type { MigrationLanguage } from '../../tasks/settings/settings';
import { createRedoTask } from '../../tasks/gulp/steps/redo';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { hashMigrationFile } from '../../tasks/db/checksums';
import { CHECKSUM_TABLE } from '../../tasks/db/ledger';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, REPO_ROOT, STARTER_MIGRATIONS as STARTER, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

describe('migrate:create and migrate:redo against a real server', function () {
  let server: TestServer;
  const projects: TestProject[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
    for (const project of projects) project.remove();
  });

  function newProject(withStarter: boolean): TestProject {
    const project = createTestProject();
    projects.push(project);
    if (withStarter) project.addMigrations('starter');
    return project;
  }

  /** ensureEnv → create, as `gulp migrate:create <argv>` (no database, no .env); returns the new file's path. */
  async function create(project: TestProject, argv: string[]): Promise<string> {
    const before = new Set(existsSync(project.migrationsDir) ? readdirSync(project.migrationsDir) : []);
    const ctx = createContext({ logger: createRecordingLogger(), env: {}, argv: ['migrate:create', ...argv], cwd: project.dir });
    await createEnsureEnvTask(ctx, { startsDatabase: true })();
    await createCreateMigrationTask(ctx)();
    const added = readdirSync(project.migrationsDir).filter((file) => !before.has(file));
    expect(added).to.have.length(1);
    return path.join(project.migrationsDir, added[0]!);
  }

  /** ensureEnv → waitDb → migrate (or redo), as `gulp migrate <argv>` would, against `url`. */
  async function run(task: 'migrate' | 'redo', project: TestProject, url: string, argv: string[] = []): Promise<RecordingLogger> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: [task === 'redo' ? 'migrate:redo' : 'migrate', ...argv], cwd: project.dir });
    await createEnsureEnvTask(ctx, { migrates: true })();
    await createWaitDbTask(ctx)();
    await (task === 'redo' ? createRedoTask(ctx) : createMigrateTask(ctx))();
    return logger;
  }
  async function runFailure(task: 'migrate' | 'redo', project: TestProject, url: string, argv: string[] = []): Promise<TaskError> {
    const error = await run(task, project, url, argv).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).to.be.instanceOf(TaskError);
    return error as TaskError;
  }
  const ledger = async (url: string) => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  const infoLines = (logger: RecordingLogger) =>
    logger.lines.filter((line) => line.startsWith('info:') && !line.includes('Database ready')).map((line) => line.replace(/\d+ ms/g, 'N ms'));
  /** The schema's tables, without our own checksum side table (tested with migrate:status). */
  const schemaTables = async (url: string) => (await tableNames(url)).filter((name) => name !== CHECKSUM_TABLE);
  const migrationName = (file: string) => path.parse(file).name;
  /** Turns the template's commented example lines into code. */
  const useExample = (file: string) =>
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace(/^( *)\/\/ (pgm\.)/gm, '$1$2')
        .replace(/^-- (CREATE|DROP) /gm, '$1 '),
    );
  const editStarter = (project: TestProject, file: string, from: string, to: string) => {
    const target = path.join(project.migrationsDir, file);
    const text = readFileSync(target, 'utf8');
    expect(text).to.include(from);
    writeFileSync(target, text.replace(from, to));
  };

  describe('migrate:create', () => {
    it('creates a migration that migrate then applies and records in the ledger', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('create_then_migrate');
      const file = await create(project, ['--name', 'add_new_table']);
      expect(path.relative(project.dir, file)).to.match(/^migrations\/\d{13}_add_new_table\.ts$/);

      const logger = await run('migrate', project, url);
      expect(infoLines(logger).slice(-2)).to.deep.equal([`info:   ↑ ${migrationName(file)} (N ms)`, 'info: Applied 6 migrations in N ms']);
      expect(await ledger(url)).to.deep.equal([...STARTER, migrationName(file)]);
    });

    for (const lang of ['ts', 'js', 'sql'] as const satisfies readonly MigrationLanguage[]) {
      it(`--lang ${lang}: the template migrates up and down as created, and with its example filled in`, async () => {
        const project = newProject(false);
        const url = await server.freshDatabase(`template_${lang}`);
        const untouched = await create(project, ['--name', 'untouched', '--lang', lang]);
        const example = await create(project, ['--name', 'add_example', '--lang', lang]);
        expect(path.extname(example)).to.equal(`.${lang}`);
        useExample(example);

        await run('migrate', project, url);
        expect(await ledger(url)).to.deep.equal([migrationName(untouched), migrationName(example)]);
        expect(await schemaTables(url)).to.deep.equal(['example', 'pgmigrations']);
        const columns = await query<{ column_name: string }>(
          url,
          "SELECT column_name FROM information_schema.columns WHERE table_name = 'example' ORDER BY ordinal_position",
        );
        expect(columns.map((row) => row.column_name)).to.deep.equal(['id', 'name']);

        const logger = await run('migrate', project, url, ['--direction', 'down', '--count', 'all']);
        expect(infoLines(logger).at(-1)).to.equal('info: Rolled back 2 migrations in N ms');
        expect(await ledger(url)).to.deep.equal([]);
        expect(await schemaTables(url)).to.deep.equal(['pgmigrations']);
      });
    }

    it('writes a TypeScript migration that type-checks under the project settings once pgm is used', function () {
      this.timeout(120_000);
      const project = newProject(false);
      return (async () => {
        const untouched = await create(project, ['--name', 'untouched']);
        const example = await create(project, ['--name', 'add_example']);
        useExample(example);
        const { config } = ts.readConfigFile(path.join(REPO_ROOT, 'tsconfig.json'), ts.sys.readFile);
        const { options } = ts.parseJsonConfigFileContent(config, ts.sys, REPO_ROOT);
        const program = ts.createProgram([untouched, example], { ...options, noEmit: true });
        const diagnostics = ts
          .getPreEmitDiagnostics(program)
          .map((d) => `${path.basename(d.file?.fileName ?? '')}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
        // An untouched template has nothing to do yet: with noUnusedParameters (this project's tsconfig) its unused pgm
        // is reported, a reminder to write the migration before committing it. Filled in, it is clean.
        expect(diagnostics).to.deep.equal([
          `${path.basename(untouched)}: 'pgm' is declared but its value is never read.`,
          `${path.basename(untouched)}: 'pgm' is declared but its value is never read.`,
        ]);
      })();
    });

    it('rejects a name with shell metacharacters and creates no file', async () => {
      const project = newProject(true);
      const before = readdirSync(project.migrationsDir);
      const ctx = createContext({ logger: createRecordingLogger(), env: {}, argv: ['migrate:create', '--name', 'users;rm -rf $HOME`id`'], cwd: project.dir });
      await createEnsureEnvTask(ctx, { startsDatabase: true })();
      const error = await createCreateMigrationTask(ctx)().then(
        () => undefined,
        (thrown: unknown) => thrown as Error,
      );
      expect(error?.message).to.equal(
        'the migration name "users;rm -rf $HOME`id`" is not safe in a file name or a shell command: it contains whitespace and the characters ; $ `\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name users_rm_-rf_HOME_id',
      );
      expect(readdirSync(project.migrationsDir)).to.deep.equal(before);
    });
  });

  describe('migrate:redo', () => {
    it('says there is nothing to redo on an empty database, and creates nothing there', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_empty');
      const logger = await run('redo', project, url);
      expect(infoLines(logger)).to.deep.equal(['info: Nothing to redo: no migration is applied']);
      expect(await tableNames(url)).to.deep.equal([]);
    });

    it('--count 2 re-applies the last two, picking up an edit of the last one; the ledger keeps its order', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_two');
      await run('migrate', project, url);
      // Loaded once in this process already: redo must read the edited file, not jiti's cached copy.
      editStarter(
        project,
        '1732500004000_create_tags.ts',
        "name: { type: 'text', notNull: true, unique: true },",
        "name: { type: 'text', notNull: true, unique: true },\n    color: { type: 'text', notNull: true, default: 'grey' },",
      );

      const logger = await run('redo', project, url, ['--count', '2']);
      expect(infoLines(logger)).to.deep.equal([
        'info:   ↓ 1732500004000_create_tags (N ms)',
        'info:   ↓ 1732500003000_create_content (N ms)',
        'info:   ↑ 1732500003000_create_content (N ms)',
        'info:   ↑ 1732500004000_create_tags (N ms)',
        'info: Redid 2 migrations in N ms',
      ]);
      const columns = await query<{ column_name: string }>(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'tags' ORDER BY ordinal_position",
      );
      expect(columns.map((row) => row.column_name)).to.deep.equal(['id', 'name', 'color']);
      expect(await ledger(url)).to.deep.equal(STARTER);
      expect(await schemaTables(url)).to.deep.equal(['content', 'content_tags', 'pgmigrations', 'tags', 'users']);
      // The re-apply recorded the edited file's checksum, so migrate:status does not report the edit as drift.
      const [checksum] = await query<{ sha256: string }>(url, `SELECT sha256 FROM ${CHECKSUM_TABLE} WHERE name = '1732500004000_create_tags'`);
      expect(checksum?.sha256).to.equal(await hashMigrationFile(path.join(project.migrationsDir, '1732500004000_create_tags.ts')));
    });

    it('redoes one by default, and all that are applied when --count is larger, saying so', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_counts');
      await run('migrate', project, url, ['--count', '2']);
      expect(infoLines(await run('redo', project, url)).slice(-1)).to.deep.equal(['info: Redid 1 migration in N ms']);
      const logger = await run('redo', project, url, ['--count', '10']);
      expect(infoLines(logger)[0]).to.equal('info: Only 2 migrations are applied: redoing them');
      expect(infoLines(logger).at(-1)).to.equal('info: Redid 2 migrations in N ms');
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 2));
    });

    it('when the re-apply fails, says which migrations are now rolled back and to run migrate, not redo', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_up_fails');
      await run('migrate', project, url);
      editStarter(
        project,
        '1732500004000_create_tags.ts',
        "pgm.createIndex('content_tags', 'tag_id');",
        "pgm.createIndex('content_tags', 'tag_id');\n  pgm.sql('SELECT no_such_column FROM tags');",
      );

      const error = await runFailure('redo', project, url, ['--count', '2']);
      const lines = error.message.split('\n');
      expect(lines[0]).to.equal(
        'migrate:redo rolled back 2 migrations but could not apply them again: 1732500003000_create_content, 1732500004000_create_tags are not applied now (the rollback was committed before the re-apply started)',
      );
      expect(lines[1]).to.equal('migration 1732500004000_create_tags failed (up): column "no_such_column" does not exist');
      expect(error.hint).to.equal(
        'fix the cause above, then run `gulp migrate --count 2` to apply them again (not migrate:redo: it would roll back the migrations before them)',
      );
      expect(error.message).to.include('\nSingle transaction: the whole run was rolled back; nothing of the re-apply was kept.\n  hint:');
      expect(error.message.match(/hint:/g)).to.have.length(1);
      // The re-apply was one transaction: create_content, applied before create_tags failed, was rolled back with it.
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 3));

      editStarter(project, '1732500004000_create_tags.ts', "\n  pgm.sql('SELECT no_such_column FROM tags');", '');
      const logger = await run('migrate', project, url, ['--count', '2']);
      expect(infoLines(logger).at(-1)).to.equal('info: Applied 2 migrations in N ms');
      expect(await ledger(url)).to.deep.equal(STARTER);
    });

    it('with --no-single-transaction, names only the migrations the failed re-apply left rolled back', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_up_fails_each');
      await run('migrate', project, url);
      editStarter(
        project,
        '1732500004000_create_tags.ts',
        "pgm.createIndex('content_tags', 'tag_id');",
        "pgm.createIndex('content_tags', 'tag_id');\n  pgm.sql('SELECT no_such_column FROM tags');",
      );

      const error = await runFailure('redo', project, url, ['--count', '2', '--no-single-transaction']);
      expect(error.message.split('\n')[0]).to.equal(
        'migrate:redo rolled back 2 migrations but could not apply them again: 1732500004000_create_tags is not applied now (the rollback was committed before the re-apply started)',
      );
      expect(error.hint).to.equal(
        'fix the cause above, then run `gulp migrate --count 1` to apply it again (not migrate:redo: it would roll back the migrations before it)',
      );
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 4));
    });

    it("when the rollback fails in one transaction, leaves everything applied and keeps the runner's error", async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_down_fails');
      await run('migrate', project, url);
      editStarter(
        project,
        '1732500003000_create_content.ts',
        'export const down = (pgm: MigrationBuilder): void => {',
        "export const down = (pgm: MigrationBuilder): void => {\n  pgm.sql('DROP TABLE no_such_table');",
      );

      const error = await runFailure('redo', project, url, ['--count', '2']);
      expect(error.message).to.match(/^migration 1732500003000_create_content failed \(down\): table "no_such_table" does not exist\n/);
      expect(error.message).to.include('Single transaction: the whole run was rolled back; the database is as it was before.');
      expect(error.hint).to.equal('fix 1732500003000_create_content in migrations/, then run the command again');
      expect(await ledger(url)).to.deep.equal(STARTER);
    });

    it('when the rollback fails halfway with --no-single-transaction, names what is rolled back and how to re-apply it', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_down_fails_each');
      await run('migrate', project, url);
      editStarter(
        project,
        '1732500003000_create_content.ts',
        'export const down = (pgm: MigrationBuilder): void => {',
        "export const down = (pgm: MigrationBuilder): void => {\n  pgm.sql('DROP TABLE no_such_table');",
      );

      const error = await runFailure('redo', project, url, ['--count', '2', '--no-single-transaction']);
      const lines = error.message.split('\n');
      expect(lines[0]).to.equal('migrate:redo stopped while rolling back: 1732500004000_create_tags is rolled back and not applied now');
      expect(lines[1]).to.equal('migration 1732500003000_create_content failed (down): table "no_such_table" does not exist');
      expect(error.hint).to.equal(
        'fix the cause above, then run `gulp migrate --count 1` to apply it again (not migrate:redo: it would roll back the migrations before it)',
      );
      expect(await ledger(url)).to.deep.equal(STARTER.slice(0, 4));
    });

    it('refuses --dry-run rather than redoing for real', async () => {
      const project = newProject(true);
      const url = await server.freshDatabase('redo_dry_run');
      await run('migrate', project, url);
      const error = await runFailure('redo', project, url, ['--dry-run']);
      expect(error.message).to.equal(
        'migrate:redo has no --dry-run: it would roll back and re-apply for real\n' +
          '  hint: run `gulp migrate --dry-run` to see the SQL of pending migrations, or run migrate:redo without --dry-run',
      );
      expect(await ledger(url)).to.deep.equal(STARTER);
    });
  });
});
