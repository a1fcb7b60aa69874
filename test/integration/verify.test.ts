import { expect } from 'chai';
import { existsSync, mkdirSync } from 'node:fs';
import { createContext, type TaskContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import type { StartedDatabase } from '../../tasks/providers/types';
import { createVerifyGuardTask, createVerifyTask } from '../../tasks/gulp/steps/verify';
import { dataDirFromOutput, query, serverProcessesFor, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, runGulp, STARTER_MIGRATIONS as STARTER, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

describe('migrate:verify against a real server', function () {
  let server: TestServer;
  const projects: TestProject[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
    for (const project of projects) project.remove();
  });

  /** A project with the given fixture migrations (all of the set, or the named files). */
  function projectWith(set: string, names?: string[]): TestProject {
    const project = createTestProject();
    projects.push(project);
    project.addMigrations(
      set,
      names?.map((name) => `${name}.ts`),
    );
    return project;
  }

  /** A context as `gulp migrate:verify` has it once startDb started a database: here a fresh database of the test server. */
  async function contextFor(project: TestProject, database: Partial<StartedDatabase> & { url: string }, env: Record<string, string> = {}) {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env, argv: ['migrate:verify'], cwd: project.dir });
    await createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true })();
    logger.lines.length = 0; // ensureEnv's line about the generated password is not verify's
    ctx.handoff.database = { provider: 'embedded', description: 'test database', stop: async () => undefined, ...database };
    return { ctx, logger };
  }

  async function verify(project: TestProject, database: string): Promise<{ logger: RecordingLogger; ctx: TaskContext; url: string }> {
    const url = await server.freshDatabase(database);
    const { ctx, logger } = await contextFor(project, { url });
    await createVerifyTask(ctx)();
    return { ctx, logger, url };
  }

  async function verifyFailure(project: TestProject, database: string): Promise<{ error: TaskError; logger: RecordingLogger }> {
    const url = await server.freshDatabase(database);
    const { ctx, logger } = await contextFor(project, { url });
    try {
      await createVerifyTask(ctx)();
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return { error: error as TaskError, logger };
    }
    throw new Error(`expected verify to fail; it printed:\n${logger.text()}`);
  }

  const infoLines = (logger: RecordingLogger) => logger.lines.filter((line) => line.startsWith('info:')).map((line) => line.replace(/\d+ ms/g, 'N ms'));

  it('verifies the starter migrations: one line per migration and a summary, all applied at the end', async () => {
    const { logger, url } = await verify(projectWith('starter'), 'verify_starter');
    expect(infoLines(logger)).to.deep.equal([
      'info: Applied 5 migrations one at a time, a schema snapshot after each (N ms); rolling them back one at a time',
      'info: Rolled back 5 migrations: each down restored the schema from before its up (N ms); applying them again',
      ...STARTER.map((name) => `info:   ✓ ${name}`),
      'info: Verified 5 migrations: each down reverses its up, and re-applying gives the same schema (N ms)',
    ]);
    expect(logger.lines.filter((line) => line.startsWith('warn:') || line.startsWith('error:'))).to.deep.equal([]);
    expect(await tableNames(url)).to.deep.equal(['content', 'content_tags', 'pgmigrations', 'pgmt_migration_checksums', 'tags', 'users']);
  });

  it('names the migration whose down forgets to drop an index, and the index', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors', '1000000000002_index_author_names', '1000000000004_add_author_bio']);
    const { error, logger } = await verifyFailure(project, 'verify_index');
    expect(error.message).to.equal(
      '1000000000002_index_author_names: down leaves behind index "authors_name_index" on authors\n' +
        '  hint: make the down of 1000000000002_index_author_names drop what its up creates and restore what it changes, then run `gulp migrate:verify` again',
    );
    // The later migration was rolled back and checked first; nothing claims success.
    expect(infoLines(logger)).to.deep.equal(['info: Applied 3 migrations one at a time, a schema snapshot after each (N ms); rolling them back one at a time']);
  });

  it('names the migration whose down forgets to drop an enum type', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors', '1000000000003_create_posts', '1000000000004_add_author_bio']);
    const { error } = await verifyFailure(project, 'verify_enum');
    expect(error.message).to.equal(
      '1000000000003_create_posts: down leaves behind enum type "post_status"\n' +
        '  hint: make the down of 1000000000003_create_posts drop what its up creates and restore what it changes, then run `gulp migrate:verify` again',
    );
  });

  it('lists every difference when a down leaves several things behind, and checks the first migration against the empty schema', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors']);
    project.writeFile(
      'migrations/1000000000001_create_authors.ts',
      `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => {
  pgm.createSchema('audit');
  pgm.createType('mood', ['ok', 'sad']);
  pgm.createTable('authors', { id: 'serial primary key' });
};
export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('authors');
};
`,
    );
    const { error } = await verifyFailure(project, 'verify_several');
    expect(error.message.split('\n').slice(0, 3)).to.deep.equal([
      '1000000000001_create_authors: down does not reverse its up (2 differences from the schema before any migration ran):',
      '  - leaves behind schema "audit"',
      '  - leaves behind enum type "mood"',
    ]);
  });

  it('reports a down that does not restore what its up changed', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors']);
    project.writeFile(
      'migrations/1000000000002_widen_name.ts',
      `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => {
  pgm.alterColumn('authors', 'name', { type: 'varchar(200)', notNull: false });
};
export const down = (pgm: MigrationBuilder): void => {
  pgm.alterColumn('authors', 'name', { type: 'text' });
};
`,
    );
    const { error } = await verifyFailure(project, 'verify_alter');
    expect(error.message.split('\n')[0]).to.equal(
      '1000000000002_widen_name: down does not restore column "name" on authors: nullability NOT NULL before its up, nullable after its down',
    );
  });

  it('fails on a migration that cannot be rolled back (down = false, or no down and raw SQL), naming it', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors', '1000000000005_irreversible']);
    const disabled = await verifyFailure(project, 'verify_irreversible');
    expect(disabled.error.message).to.equal(
      '1000000000005_irreversible: its down is disabled (`export const down = false`), so migrate:verify cannot roll it back\n' +
        '  hint: write a down for 1000000000005_irreversible that reverses its up (an irreversible migration cannot be verified), then run `gulp migrate:verify` again',
    );
    project.writeFile(
      'migrations/1000000000005_irreversible.ts',
      "export const up = (pgm: { sql(text: string): void }) => pgm.sql('CREATE TABLE archive (id integer)');\n",
    );
    const inferred = await verifyFailure(project, 'verify_no_down');
    expect(inferred.error.message.split('\n')[0]).to.equal('1000000000005_irreversible: has no down, and node-pg-migrate cannot infer one from its up');
  });

  it('verifies a migration that runs outside a transaction, warning about it once, not once per pass', async () => {
    const project = projectWith('verify-broken', ['1000000000001_create_authors']);
    project.writeFile(
      'migrations/1000000000002_index_concurrently.ts',
      `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = (pgm: MigrationBuilder): void => {
  pgm.noTransaction();
  pgm.createIndex('authors', 'name', { concurrently: true });
};
export const down = (pgm: MigrationBuilder): void => {
  pgm.noTransaction();
  pgm.dropIndex('authors', 'name', { concurrently: true });
};
`,
    );
    const { logger } = await verify(project, 'verify_no_transaction');
    const warnings = logger.lines.filter((line) => line.startsWith('warn:'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('runs outside the transaction (pgm.noTransaction())');
    expect(infoLines(logger).at(-1)).to.equal('info: Verified 2 migrations: each down reverses its up, and re-applying gives the same schema (N ms)');
  });

  it('says there is nothing to verify when the migrations folder is empty', async () => {
    const project = createTestProject();
    projects.push(project);
    mkdirSync(project.migrationsDir);
    const url = await server.freshDatabase('verify_empty');
    const { ctx, logger } = await contextFor(project, { url });
    await createVerifyTask(ctx)();
    expect(infoLines(logger)).to.deep.equal(['info: No migrations in migrations/: nothing to verify']);
  });

  describe('refuses a database it must not wipe', () => {
    let project: TestProject;
    let url: string;
    before(async () => {
      project = projectWith('starter');
      url = await server.freshDatabase('verify_refused');
      await query(url, 'CREATE TABLE precious (id integer)');
    });

    it('an external database (DB_PROVIDER=external), before connecting', async () => {
      const logger = createRecordingLogger();
      const ctx = createContext({ logger, env: { DATABASE_URL: url, DB_PROVIDER: 'external' }, argv: ['migrate:verify'], cwd: project.dir });
      await createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true })();
      const error = await failureOf(createVerifyGuardTask(ctx)());
      const shown = url.replace(/:[^:@/]+@/, ':****@');
      expect(error.message).to.equal(
        `migrate:verify applies and rolls back every migration, dropping what they create: it refuses the external database at ${shown}\n` +
          '  hint: run `gulp migrate:verify` without DB_PROVIDER=external: it starts a throw-away database of its own and removes it afterwards',
      );
      const flagged = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate:verify', '--provider', 'external'], cwd: project.dir });
      await createEnsureEnvTask(flagged, { startsDatabase: true, migrates: true })();
      expect((await failureOf(createVerifyGuardTask(flagged)())).hint).to.equal(
        'run `gulp migrate:verify` without --provider external: it starts a throw-away database of its own and removes it afterwards',
      );
    });

    it('an external or kept database handed to the task, and a run without a started database', async () => {
      const external = await contextFor(project, { url, provider: 'external' });
      expect((await failureOf(createVerifyTask(external.ctx)())).message).to.match(/it refuses the external database at postgresql:\/\/contentuser:\*\*\*\*@/);
      const kept = await contextFor(project, { url });
      kept.ctx.handoff.keepDatabase = true;
      expect((await failureOf(createVerifyTask(kept.ctx)())).message).to.include('it refuses the kept database at');
      const none = await contextFor(project, { url });
      none.ctx.handoff.database = undefined;
      expect((await failureOf(createVerifyTask(none.ctx)())).message).to.equal(
        'migrate:verify needs a throw-away database of its own, and none was started in this run\n' +
          '  hint: run `gulp migrate:verify`, which starts one and removes it afterwards (in your own gulpfile, put createStartDbTask(ctx) before createVerifyTask(ctx))',
      );
      expect(await tableNames(url)).to.deep.equal(['precious']);
    });

    it('a database where migrations are already applied', async () => {
      const { ctx } = await contextFor(project, { url });
      await query(
        url,
        "CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL); INSERT INTO pgmigrations (name, run_on) VALUES ('x', now())",
      );
      const error = await failureOf(createVerifyTask(ctx)());
      expect(error.message).to.equal(
        'migrate:verify needs an empty database, and this one already has 1 migration applied\n' +
          '  hint: run `gulp migrate:verify`, which starts an empty throw-away database of its own',
      );
      expect(await tableNames(url)).to.deep.equal(['pgmigrations', 'precious']);
    });
  });
});

describe('gulp migrate:verify, end to end', function () {
  let project: TestProject | undefined;
  before(() => (project = createTestProject()));
  after(() => project?.remove());

  it('starts its own database, verifies, stops it; a broken down fails the run and still stops it', async () => {
    if (!project) throw new Error('no project');
    project.addMigrations('starter');
    const ok = await runGulp(['migrate:verify'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(ok.code, ok.output).to.equal(0);
    expect(ok.output).to.match(/Verified 5 migrations: each down reverses its up, and re-applying gives the same schema \(\d+ ms\)/);
    expect(ok.output).to.match(/Stopped the embedded database and removed its files/);

    project.addMigrations('verify-broken', ['1000000000001_create_authors.ts', '1000000000002_index_author_names.ts']);
    const failed = await runGulp(['migrate:verify'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(failed.code, failed.output).to.equal(1);
    expect(failed.output).to.include('1000000000002_index_author_names: down leaves behind index "authors_name_index" on authors');
    expect(failed.output).to.match(/Stopped the embedded database and removed its files/);
    const dataDir = dataDirFromOutput(failed.output);
    expect(existsSync(dataDir), `${dataDir} left behind`).to.equal(false);
    expect(serverProcessesFor(dataDir)).to.deep.equal([]);
  });
});

async function failureOf(promise: Promise<unknown>): Promise<TaskError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TaskError);
    return error as TaskError;
  }
  throw new Error('expected a TaskError');
}
