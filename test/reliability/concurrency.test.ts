import { expect } from 'chai';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { dataDirFromOutput, query, serverProcessesFor, startTestServer, type TestServer } from '../support/database';
import { createTestProject, startGulp, type GulpProcess, type GulpRun, type TestProject } from '../support/project';

const RUNS = 8;
/** First migration of the project: waits for the test's "gate" table lock, so the run holding the run lock stays in it. */
const GATE_MIGRATION = '1199999999999_pass_gate';
const MIGRATION_COUNT = 11;
/** Far above what 8 gulp starts take on a loaded 2-core machine; reaching it means something deadlocked. */
const DEADLINE_MS = 100_000;

/** Polls `condition` every 100 ms until it holds; throws `what` (with the processes' output) after the deadline. */
async function until(what: string, condition: () => Promise<boolean> | boolean, runs: GulpProcess[] = []): Promise<void> {
  for (const started = Date.now(); !(await condition()); await sleep(100)) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`${what}: not reached in ${DEADLINE_MS} ms\n${runs.map((run) => run.output()).join('\n---\n')}`);
  }
}

describe('concurrent runs', function () {
  this.timeout(4 * DEADLINE_MS);

  describe(`${RUNS} \`gulp migrate\` processes against one database`, () => {
    let server: TestServer;
    let project: TestProject;
    let running: GulpProcess[] = [];
    let gate: Client | undefined;
    before(async () => {
      server = await startTestServer();
      project = createTestProject();
      project.addMigrations('batch');
      project.writeFile(`migrations/${GATE_MIGRATION}.sql`, '-- Up Migration\nLOCK TABLE gate IN SHARE MODE;\n\n-- Down Migration\n');
    });
    afterEach(async () => {
      await gate?.end().catch(() => undefined);
      gate = undefined;
      // A hung process must not outlive the test.
      for (const run of running) run.kill('SIGKILL');
      await Promise.all(running.map((run) => run.done));
      running = [];
    });
    after(async () => {
      await server?.stop();
      project?.remove();
    });

    /** A fresh database with a "gate" table the test holds an exclusive lock on, so the first run blocks inside its first migration. */
    async function gatedDatabase(name: string): Promise<string> {
      const url = await server.freshDatabase(name);
      await query(url, 'CREATE TABLE gate (id integer)');
      gate = new Client({ connectionString: url });
      gate.on('error', () => undefined);
      await gate.connect();
      await gate.query('BEGIN');
      await gate.query('LOCK TABLE gate IN ACCESS EXCLUSIVE MODE');
      return url;
    }
    const startAll = (url: string, flags: string[]) => {
      running = Array.from({ length: RUNS }, () => startGulp(['migrate', ...flags], { cwd: project.dir, env: { DATABASE_URL: url } }));
      return running;
    };
    const waitingFor = async (url: string, locktype: 'advisory' | 'relation') =>
      Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM pg_locks WHERE locktype = '${locktype}' AND NOT granted`))[0]!.n);
    /** Each migration exactly once in the ledger (and in the checksum table), in order. */
    async function expectAppliedOnce(url: string): Promise<void> {
      const rows = await query<{ name: string; rows: string }>(url, 'SELECT name, count(*) AS rows FROM pgmigrations GROUP BY name ORDER BY min(id)');
      const names = readdirSync(project.migrationsDir)
        .map((file) => path.parse(file).name)
        .sort();
      expect(rows).to.deep.equal(names.map((name) => ({ name, rows: '1' })));
      expect(await query(url, 'SELECT count(*)::int AS n FROM pgmt_migration_checksums')).to.deep.equal([{ n: MIGRATION_COUNT }]);
    }
    const applied = (run: GulpRun) => new RegExp(`Applied ${MIGRATION_COUNT} migrations in \\d+ ms`).test(run.output);
    const upToDate = (run: GulpRun) => run.output.includes('Already up to date: no pending migrations');

    it('--lock-mode wait: all wait for the run that holds the lock, then exit 0; each migration is applied exactly once', async () => {
      const url = await gatedDatabase('eight_wait');
      const runs = startAll(url, ['--lock-mode', 'wait', '--timeout', '90']);
      // One run holds the run lock and waits at the gate; the seven others wait for the run lock.
      await until(
        'one run at the gate and seven waiting for it',
        async () => (await waitingFor(url, 'relation')) === 1 && (await waitingFor(url, 'advisory')) === RUNS - 1,
        runs,
      );
      await gate!.query('ROLLBACK');
      const results = await Promise.all(runs.map((run) => run.done));
      for (const result of results) expect(result.code, result.output).to.equal(0);
      expect(results.filter(applied), 'runs that applied the migrations').to.have.length(1);
      const waited = results.filter((result) => !applied(result));
      expect(waited.filter(upToDate)).to.have.length(RUNS - 1);
      for (const result of waited) {
        expect(result.output.match(/Waiting for another migration run on this database to finish/g), result.output).to.have.length(1);
        expect(result.output).to.match(/Waiting for another migration run on this database to finish \(PID \d+ \(pg-migrate-tasks, user contentuser, /);
        expect(result.output).to.match(/The other migration run finished: continuing \(waited \d+ ms\)/);
      }
      await expectAppliedOnce(url);
    });

    it('--lock-mode fail (default): the run holding the lock applies everything; the others fail at once saying another migration is running', async () => {
      const url = await gatedDatabase('eight_fail');
      const runs = startAll(url, []);
      const finished: GulpRun[] = [];
      for (const run of runs) void run.done.then((result) => finished.push(result));
      await until(
        'seven runs refused while one waits at the gate',
        async () => finished.length === RUNS - 1 && (await waitingFor(url, 'relation')) === 1,
        runs,
      );
      await gate!.query('ROLLBACK');
      const results = await Promise.all(runs.map((run) => run.done));
      const winners = results.filter(applied);
      expect(winners, 'runs that applied the migrations').to.have.length(1);
      expect(winners[0]!.code, winners[0]!.output).to.equal(0);
      for (const result of results.filter((result) => !applied(result))) {
        expect(result.code, result.output).to.equal(1);
        // The holder is named as it was at that moment: starting its transaction, reading the ledger, or at the gate.
        // (What it is running may itself hold parentheses.)
        expect(result.output).to.match(/another migration is running on this database \(PID \d+ \(pg-migrate-tasks, user contentuser, .+\)\)\n/);
        expect(result.output).to.include('hint: wait for it to finish and run the command again, or pass `--lock-mode wait` to wait for it (up to --timeout)');
      }
      await expectAppliedOnce(url);
    });

    it('--lock-mode fail, started together with nothing held: one applies; every other one either was refused or found nothing to do', async () => {
      const url = await server.freshDatabase('eight_race');
      await query(url, 'CREATE TABLE gate (id integer)');
      const results = await Promise.all(startAll(url, []).map((run) => run.done));
      expect(results.filter(applied), 'runs that applied the migrations').to.have.length(1);
      for (const result of results.filter((result) => !applied(result))) {
        const refused = result.code === 1 && result.output.includes('another migration is running on this database');
        expect(refused || (result.code === 0 && upToDate(result)), result.output).to.equal(true);
      }
      await expectAppliedOnce(url);
    });
  });

  describe('two `gulp migrate:local` at once', () => {
    let project: TestProject;
    let tmp: string;
    before(() => {
      project = createTestProject();
      project.addMigrations('batch');
      tmp = mkdtempSync(path.join(os.tmpdir(), 'concurrent-locals-'));
      chmodSync(tmp, 0o755);
    });
    after(() => {
      for (const pid of serverProcessesFor(tmp)) process.kill(pid, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
      project.remove();
    });

    it('each gets its own server, port and temp dir; both succeed and leave nothing running', async () => {
      const env = { DB_PROVIDER: 'embedded', TMPDIR: tmp };
      const runs = [startGulp(['migrate:local'], { cwd: project.dir, env }), startGulp(['migrate:local'], { cwd: project.dir, env })];
      const results = await Promise.all(runs.map((run) => run.done));
      for (const result of results) {
        expect(result.code, result.output).to.equal(0);
        expect(result.output).to.match(/Applied 10 migrations in \d+ ms/);
        expect(result.output).to.match(/Stopped the embedded database and removed its files/);
      }
      const [first, second] = results.map((result) => ({
        dataDir: dataDirFromOutput(result.output),
        port: /on 127\.0\.0\.1:(\d+), data in/.exec(result.output)?.[1],
      }));
      expect(first!.port).to.be.a('string');
      expect(first!.dataDir).not.to.equal(second!.dataDir);
      expect(first!.port).not.to.equal(second!.port);
      for (const { dataDir } of [first!, second!]) {
        expect(path.dirname(dataDir)).to.equal(tmp);
        expect(existsSync(dataDir), `${dataDir} left behind`).to.equal(false);
      }
      expect(readdirSync(tmp).filter((name) => name.startsWith('pgmt-'))).to.deep.equal([]);
      expect(serverProcessesFor(tmp)).to.deep.equal([]);
    });
  });
});
