import { expect } from 'chai';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { keptStatePath, type KeptDatabaseState } from '../../tasks/settings/kept-state';
import { dataDirFromOutput, query, serverProcessesFor } from '../support/database';
import { reapTestLeftovers } from '../support/global-setup';
import { createTestProject, FIXTURES, runGulp, startGulp, untilSlowMigrationRuns, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };
const SLOW_AFTER_STARTER = '1900000000000_slow';
const QUICK_BEFORE_SLOW = '1800000000000_quick';

describe('interrupted runs', function () {
  this.timeout(90_000);
  let project: TestProject;
  let tmp: string;
  beforeEach(() => {
    project = createTestProject();
    // A TMPDIR of the test's own: the orphan search of the next run looks there, and nothing else runs in it.
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgmt-reliability-'));
    chmodSync(tmp, 0o755);
  });
  afterEach(async () => {
    await runGulp(['db:stop'], { cwd: project.dir, env: { TMPDIR: tmp } });
    for (const pid of serverProcessesFor(tmp)) process.kill(pid, 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    project.remove();
  });

  it('SIGKILL of gulp: the next run finds the server it left, stops it, removes its files and says so', async () => {
    project.addMigrations('slow');
    const marker = path.join(project.dir, 'slow-marker');
    const killed = startGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp, SLOW_MIGRATION_MARKER: marker } });
    await untilSlowMigrationRuns(killed, marker);
    killed.kill('SIGKILL');
    const killedRun = await killed.done;
    expect(killedRun.signal).to.equal('SIGKILL');
    const leftDir = dataDirFromOutput(killedRun.output);
    expect(serverProcessesFor(leftDir), 'nothing in-process can clean up after SIGKILL').to.have.length.greaterThan(0);

    rmSync(path.join(project.migrationsDir, '1000000000001_slow.ts'));
    project.addMigrations('starter');
    const next = await runGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp } });
    expect(next.code, next.output).to.equal(0);
    expect(next.output).to.match(new RegExp(`A run that was killed \\(PID \\d+\\) left its server running: stopped it \\(PID \\d+\\) and removed ${leftDir}`));
    expect(serverProcessesFor(leftDir)).to.deep.equal([]);
    expect(existsSync(leftDir)).to.equal(false);
    expect(readdirSync(tmp).filter((name) => name.startsWith('pgmt-'))).to.deep.equal([]);
  });

  it("a test run killed with its servers under a TMPDIR of a test's own: the suite's set-up stops them before the next run", async () => {
    project.addMigrations('slow');
    const marker = path.join(project.dir, 'slow-marker');
    const killed = startGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp, SLOW_MIGRATION_MARKER: marker } });
    await untilSlowMigrationRuns(killed, marker);
    killed.kill('SIGKILL');
    const leftDir = dataDirFromOutput((await killed.done).output);
    expect(serverProcessesFor(leftDir)).to.have.length.greaterThan(0);

    // What .mocharc's global set-up runs: the temp folder, and the folders in it that hold server dirs (here `tmp`).
    const lines: string[] = [];
    await reapTestLeftovers({ info: (line) => lines.push(line), warn: (line) => lines.push(line), error: (line) => lines.push(line) }, path.dirname(tmp));
    expect(serverProcessesFor(leftDir)).to.deep.equal([]);
    expect(existsSync(leftDir)).to.equal(false);
    expect(lines.join('\n')).to.match(
      new RegExp(`A run that was killed \\(PID \\d+\\) left its server running: stopped it \\(PID \\d+\\) and removed ${leftDir}`),
    );
  });

  it('leaves a run that is still going alone (its owner is alive)', async () => {
    project.addMigrations('slow');
    const marker = path.join(project.dir, 'slow-marker');
    const running = startGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp, SLOW_MIGRATION_MARKER: marker } });
    try {
      await untilSlowMigrationRuns(running, marker);
      const other = createTestProject();
      try {
        other.addMigrations('starter');
        const second = await runGulp(['migrate:local'], { cwd: other.dir, env: { ...EMBEDDED, TMPDIR: tmp } });
        expect(second.code, second.output).to.equal(0);
        expect(second.output).not.to.include('A run that was killed');
      } finally {
        other.remove();
      }
      expect(serverProcessesFor(dataDirFromOutput(running.output()))).to.have.length.greaterThan(0);
    } finally {
      running.kill('SIGINT');
      await running.done;
    }
  });

  it('a closed output (`gulp migrate:local | head`) stops what the run started, removes its files, ends by SIGPIPE', async () => {
    project.addMigrations('starter');
    const gulp = startGulp(['migrate:local'], { cwd: project.dir, env: { ...EMBEDDED, TMPDIR: tmp } });
    for (let waited = 0; !gulp.output().includes('Database provider:'); waited += 10) {
      if (waited > 30_000) throw new Error(`no provider line:\n${gulp.output()}`);
      await sleep(10);
    }
    // The server is being made; its "Started …" line, hundreds of ms later, meets the closed pipe.
    gulp.closeOutput();
    const run = await gulp.done;
    expect(run.signal ?? run.code).to.equal('SIGPIPE');
    expect(readdirSync(tmp).filter((name) => name.startsWith('pgmt-'))).to.deep.equal([]);
    expect(serverProcessesFor(tmp)).to.deep.equal([]);
  });

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    it(`${signal} of \`gulp migrate\`: its statement does not go on running on the server, holding its locks`, async () => {
      project.addMigrations('starter');
      const env = { ...EMBEDDED, TMPDIR: tmp, KEEP_DB: '1' };
      const first = await runGulp(['migrate:local'], { cwd: project.dir, env });
      expect(first.code, first.output).to.equal(0);
      const kept = JSON.parse(readFileSync(keptStatePath(project.dir), 'utf8')) as KeptDatabaseState;

      cpSync(path.join(FIXTURES, 'slow', '1000000000001_slow.ts'), path.join(project.migrationsDir, `${SLOW_AFTER_STARTER}.ts`));
      const marker = path.join(project.dir, 'slow-marker');
      const gulp = startGulp(['migrate'], { cwd: project.dir, env: { ...env, SLOW_MIGRATION_MARKER: marker } });
      await untilSlowMigrationRuns(gulp, marker);
      gulp.kill(signal);
      const run = await gulp.done;
      expect(run.signal ?? run.code, run.output).to.equal(signal);

      // Ctrl-C cancels the statement at once; after SIGKILL the server notices the lost client within a second.
      const sleeping = async () =>
        query<{ n: number }>(
          kept.superuserUrl!,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
        );
      for (let waited = 0; (await sleeping())[0]!.n > 0; waited += 100) {
        if (waited > 5_000) throw new Error('the interrupted migration is still running on the server');
        await sleep(100);
      }
      expect(await query(kept.url, "SELECT to_regclass('public.slow_table') IS NULL AS absent")).to.deep.equal([{ absent: true }]);
      // The run lock went with it: the next run is not told that another migration is running.
      const status = await runGulp(['migrate:status'], { cwd: project.dir, env });
      expect(status.output).to.match(new RegExp(`pending +${SLOW_AFTER_STARTER}`));
      const next = await runGulp(['migrate', '--lock-mode', 'fail', '--statement-timeout', '1s'], { cwd: project.dir, env });
      expect(next.output).not.to.include('another migration is running');
    });
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} mid-migration on a kept database: the migration is neither recorded nor half-applied`, async () => {
      project.addMigrations('starter');
      const env = { ...EMBEDDED, TMPDIR: tmp, KEEP_DB: '1' };
      const first = await runGulp(['migrate:local'], { cwd: project.dir, env });
      expect(first.code, first.output).to.equal(0);

      // A quick migration, then the slow fixture, renamed to come after the starter migrations.
      writeFileSync(path.join(project.migrationsDir, `${QUICK_BEFORE_SLOW}.sql`), 'CREATE TABLE quick_table (id int);\n');
      cpSync(path.join(FIXTURES, 'slow', '1000000000001_slow.ts'), path.join(project.migrationsDir, `${SLOW_AFTER_STARTER}.ts`));
      const marker = path.join(project.dir, 'slow-marker');
      const gulp = startGulp(['migrate:local'], { cwd: project.dir, env: { ...env, SLOW_MIGRATION_MARKER: marker } });
      await untilSlowMigrationRuns(gulp, marker);
      gulp.kill(signal);
      const run = await gulp.done;
      expect(run.signal ?? run.code, run.output).to.equal(signal);
      expect(run.output).to.include(`Received ${signal}: stopping what this run started`);
      // The quick one's line said it finished; the run's one transaction is gone all the same, and the output says so.
      expect(run.output).to.include(
        `Interrupted during migration ${SLOW_AFTER_STARTER}: its statement was cancelled and its transaction was rolled back; no migration of this run is applied`,
      );

      const kept = JSON.parse(readFileSync(keptStatePath(project.dir), 'utf8')) as KeptDatabaseState;
      const ledger = await query<{ name: string }>(kept.url, 'SELECT name FROM pgmigrations ORDER BY id');
      expect(ledger.map((row) => row.name)).not.to.include(SLOW_AFTER_STARTER);
      expect(ledger).to.have.length(5);
      expect(await query(kept.url, "SELECT to_regclass('public.quick_table') IS NULL AS absent")).to.deep.equal([{ absent: true }]);
      expect(await query(kept.url, "SELECT to_regclass('public.slow_table') IS NULL AS absent")).to.deep.equal([{ absent: true }]);
      const status = await runGulp(['migrate:status'], { cwd: project.dir, env });
      expect(status.output).to.match(new RegExp(`pending +${SLOW_AFTER_STARTER}`));
    });
  }
});
