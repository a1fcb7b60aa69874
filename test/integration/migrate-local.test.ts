import { expect } from 'chai';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { keptStatePath, type KeptDatabaseState } from '../../tasks/settings/kept-state';
import { detectContainerRuntime } from '../../tasks/providers/container-runtime';
import { freePort } from '../../tasks/providers/free-port';
import { dataDirFromOutput, serverProcessesFor, tableNames } from '../support/database';
import { createTestProject, runGulp, startGulp, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };

describe('gulp migrate:local, end to end', function () {
  let project: TestProject;
  beforeEach(() => (project = createTestProject()));
  afterEach(async () => {
    // A kept database left by a failed test must not outlive the run.
    if (existsSync(keptStatePath(project.dir))) await runGulp(['db:stop'], { cwd: project.dir });
    project.remove();
  });

  it('starts a server, applies every migration, stops it and removes its files', async () => {
    project.addMigrations('starter');
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.match(/Database provider: embedded \(chosen by DB_PROVIDER\)/);
    expect(run.output).to.match(/Applied 5 migrations in \d+ ms/);
    expect(run.output).to.match(/Stopped the embedded database and removed its files in \d+ ms/);
    const dataDir = dataDirFromOutput(run.output);
    expect(existsSync(dataDir), `${dataDir} left behind`).to.equal(false);
    expect(serverProcessesFor(dataDir)).to.deep.equal([]);
  });

  it('keeps the database with KEEP_DB=1, reuses it, migrates it with `gulp migrate`, and db:stop stops it', async () => {
    project.addMigrations('starter');
    const env = { ...EMBEDDED, KEEP_DB: '1' };
    const first = await runGulp(['migrate:local'], { cwd: project.dir, env });
    expect(first.code, first.output).to.equal(0);
    expect(first.output).to.match(/Kept the database running at postgresql:\/\/contentuser:\*\*\*\*@127\.0\.0\.1:\d+\/contenthub/);
    const state = JSON.parse(readFileSync(keptStatePath(project.dir), 'utf8')) as KeptDatabaseState;
    expect(await tableNames(state.url)).to.deep.equal(['content', 'content_tags', 'pgmigrations', 'pgmt_migration_checksums', 'tags', 'users']);

    const second = await runGulp(['migrate:local'], { cwd: project.dir, env });
    expect(second.code, second.output).to.equal(0);
    expect(second.output).to.include('Reusing the kept database');
    expect(second.output).to.include('Already up to date: no pending migrations');
    // The kept database has the password it was made with: none is generated for a reuse.
    expect(first.output).to.include('DB_PASSWORD is not set: generated a random one for the database this run starts');
    expect(second.output).not.to.include('DB_PASSWORD is not set');

    const down = await runGulp(['migrate', '--direction', 'down', '--count', '1'], { cwd: project.dir });
    expect(down.code, down.output).to.equal(0);
    expect(down.output).to.match(/Rolled back 1 migration in \d+ ms/);
    expect(await tableNames(state.url)).to.deep.equal(['content', 'pgmigrations', 'pgmt_migration_checksums', 'users']);

    const stop = await runGulp(['db:stop'], { cwd: project.dir });
    expect(stop.code, stop.output).to.equal(0);
    expect(stop.output).to.match(/Stopped the kept embedded database and removed its files in \d+ ms/);
    expect(existsSync(state.tempDir!)).to.equal(false);
    expect(serverProcessesFor(state.tempDir!)).to.deep.equal([]);
    expect(existsSync(keptStatePath(project.dir))).to.equal(false);
    const password = decodeURIComponent(new URL(state.url).password);
    const superPassword = decodeURIComponent(new URL(state.superuserUrl).password);
    for (const run of [first, second, down, stop]) {
      expect(run.output).not.to.include(password);
      expect(run.output).not.to.include(superPassword);
    }
  });

  it('db:start keeps a database at the .env settings, `gulp migrate` uses it, a reuse with other settings warns', async () => {
    project.addMigrations('starter');
    const port = await freePort();
    project.writeFile('.env', `DB_HOST=127.0.0.1\nDB_PORT=${port}\nDB_NAME=hub\nDB_USER=hub_owner\nDB_PASSWORD=local-secret\n`);
    const start = await runGulp(['db:start'], { cwd: project.dir, env: EMBEDDED });
    expect(start.code, start.output).to.equal(0);
    expect(start.output).to.include(`Database ready: hub_owner@127.0.0.1:${port}/hub`);
    expect(start.output).to.include(`Kept the database running at postgresql://hub_owner:****@127.0.0.1:${port}/hub`);

    const migrate = await runGulp(['migrate'], { cwd: project.dir });
    expect(migrate.code, migrate.output).to.equal(0);
    expect(migrate.output).to.match(/Applied 5 migrations in \d+ ms/);

    const again = await runGulp(['db:start'], { cwd: project.dir, env: { ...EMBEDDED, DB_PASSWORD: 'another-secret' } });
    expect(again.code, again.output).to.equal(0);
    expect(again.output).to.include('Reusing the kept database');
    expect(again.output).to.include(
      'The kept database was started with another password than the one configured now, and keeps its own: run `gulp db:stop` and start again to recreate it with the current settings',
    );
    for (const run of [start, migrate, again]) expect(run.output).not.to.match(/local-secret|another-secret/);
  });

  it("still tears down when a migration fails, and exits non-zero with the failing step's message", async () => {
    project.addMigrations('failing');
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('migration 1000000000002_fails_halfway failed (up): relation "no_such_table" does not exist');
    expect(run.output).to.include('hint: fix 1000000000002_fails_halfway in migrations/, then run the command again');
    expect(run.output).to.match(/Stopped the embedded database and removed its files/);
    expect(run.output, 'a stack trace was printed').not.to.match(/\n\s+at /);
    const dataDir = dataDirFromOutput(run.output);
    expect(existsSync(dataDir)).to.equal(false);
    expect(serverProcessesFor(dataDir)).to.deep.equal([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`stops the server and removes its temp dir on ${signal} in the middle of a migration`, async () => {
      project.addMigrations('slow');
      const marker = path.join(project.dir, 'slow-migration-started');
      // SIGTERM runs with DB_PROVIDER=auto and a DOCKER_HOST nothing answers at: auto then loads testcontainers,
      // whose signal-exit handler must not swallow the re-raised signal.
      const noEngine = { DOCKER_HOST: `unix://${path.join(project.dir, 'no-engine.sock')}` };
      const provider = signal === 'SIGTERM' && !(await detectContainerRuntime()).available ? noEngine : EMBEDDED;
      const gulp = startGulp(['migrate:local'], { cwd: project.dir, env: { ...provider, SLOW_MIGRATION_MARKER: marker } });
      // up() runs twice: in the lint pre-flight (rendering its SQL), then in the runner, which then sleeps in pg_sleep.
      const upCalls = () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0);
      for (let waited = 0; upCalls() < 2; waited += 50) {
        if (waited > 30_000) throw new Error(`the slow migration never started:\n${gulp.output()}`);
        await sleep(50);
      }
      await sleep(200);
      gulp.kill(signal);
      const run = await gulp.done;
      expect(run.signal ?? run.code, run.output).to.equal(signal);
      expect(run.output).to.include(`Received ${signal}: stopping what this run started`);
      expect(run.output, 'a consequence of the interruption was reported as an error').not.to.match(/errored|hint:|\n\s+at /);
      const dataDir = dataDirFromOutput(run.output);
      expect(existsSync(dataDir)).to.equal(false);
      expect(serverProcessesFor(dataDir)).to.deep.equal([]);
    });
  }

  it('leaves nothing behind when interrupted while the server is being created or started', async () => {
    project.addMigrations('starter');
    for (const delayMs of [0, 60, 150, 300, 600]) {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'pgmt-signal-'));
      chmodSync(tmp, 0o755);
      try {
        const gulp = startGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp } });
        for (let waited = 0; !gulp.output().includes('Database provider:'); waited += 10) {
          if (waited > 30_000) throw new Error(`no provider line:\n${gulp.output()}`);
          await sleep(10);
        }
        await sleep(delayMs);
        gulp.kill('SIGINT');
        const run = await gulp.done;
        const label = `interrupted ${delayMs} ms after the provider line:\n${run.output}`;
        if (run.code === 0) continue; // It finished before the signal landed: nothing to check.
        expect(run.signal, label).to.equal('SIGINT');
        expect(run.output, label).not.to.match(/errored|hint:|\n\s+at /);
        expect(
          readdirSync(tmp).filter((name) => name.startsWith('pgmt-')),
          label,
        ).to.deep.equal([]);
        expect(serverProcessesFor(tmp), label).to.deep.equal([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  });

  it('explains a missing connection for `gulp migrate`, with no stack trace and exit code 1', async () => {
    project.addMigrations('starter');
    const run = await runGulp(['migrate'], { cwd: project.dir });
    expect(run.code).to.equal(1);
    expect(run.output).to.include(
      'DATABASE_URL is required: set it, or set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)',
    );
    expect(run.output).to.include(
      'hint: point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one; then run the command again',
    );
    expect(run.output).not.to.match(/\n\s+at /);
  });

  it('rejects an invalid flag before starting anything', async () => {
    const run = await runGulp(['migrate:local', '--direction', 'sideways'], { cwd: project.dir, env: EMBEDDED });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('--direction must be one of: up, down (got "sideways")');
    expect(run.output).not.to.include('Database provider');
  });

  it('documents every task and its flags in `gulp --tasks`', async () => {
    const run = await runGulp(['--tasks'], { cwd: project.dir });
    expect(run.code, run.output).to.equal(0);
    for (const task of ['migrate:local', 'migrate', 'db:start', 'db:stop']) expect(run.output).to.match(new RegExp(`[├└]─[─┬] ${task} +\\S`));
    for (const [flag, description] of [
      ['--direction up|down', 'which way to migrate (default: up)'],
      ['--count N|all', 'how many migrations (default: all up, 1 down, 1 for redo)'],
      ['--provider auto|embedded|docker|compose|external|pglite', 'how to get a database (default: DB_PROVIDER or auto)'],
      ['--timeout SECONDS', 'how long to wait for the database (default: DB_WAIT_TIMEOUT or 30)'],
      ['--migrations-dir DIR', 'folder of migrations (default: MIGRATIONS_DIR or migrations)'],
      ['--dotenv FILE', 'environment file to load (default: .env, if present)'],
      ['--no-single-transaction', 'commit each migration on its own (default: one transaction for all)'],
    ]) {
      expect(run.output).to.match(new RegExp(`${escapeRegExp(flag!)} +…${escapeRegExp(description!)}\\n`));
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
