import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cloneName, databaseEnv } from '../../tasks/engine/clone-databases';
import { runShellCommand } from '../../tasks/engine/run-command';
import { isAlive } from '../../tasks/providers/process-control';
import { keptStatePath, type KeptDatabaseState } from '../../tasks/settings/kept-state';
import { resolveSettings } from '../../tasks/settings/settings';
import { Cleanups } from '../../tasks/util/cleanups';
import { dataDirFromOutput, query, serverProcessesFor } from '../support/database';
import { createTestProject, REPO_ROOT, runGulp, startGulp, type GulpRun, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };
const MOCHA = `${path.join(REPO_ROOT, 'node_modules', '.bin', 'mocha')} --no-config --no-package --reporter dot`;
const STARTER_TABLES = ['content', 'content_tags', 'tags', 'users'];

/** A test of the team's own: reads DATABASE_URL with `pg` and checks the starter migrations' tables. */
const PASSING_TEST = `
const assert = require('node:assert');
const { Client } = require('pg');
describe('the migrated database', () => {
  it('has the starter tables', async () => {
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      const tables = rows.map((row) => row.tablename);
      for (const table of ${JSON.stringify(STARTER_TABLES)}) assert.ok(tables.includes(table), table + ' is missing');
      assert.strictEqual(process.env.DB_NAME, (await client.query('SELECT current_database() AS name')).rows[0].name);
    } finally {
      await client.end();
    }
  });
});
`;
/** Two failing assertions: mocha exits with the number of failures. */
const FAILING_TEST = `
const assert = require('node:assert');
const { Client } = require('pg');
const tables = async () => {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map((row) => row.tablename);
  } finally {
    await client.end();
  }
};
describe('wishful thinking', () => {
  it('has a table no migration creates', async () => assert.ok((await tables()).includes('invoices'), 'no invoices table'));
  it('has another one', async () => assert.ok((await tables()).includes('payments'), 'no payments table'));
});
`;

/** Prints, for each DATABASE_URL_i, the database's name and its tables as one JSON line. */
const PRINT_CLONES = `
const { Client } = require('pg');
(async () => {
  for (let i = 1; process.env['DATABASE_URL_' + i]; i += 1) {
    const client = new Client({ connectionString: process.env['DATABASE_URL_' + i] });
    await client.connect();
    const name = (await client.query('SELECT current_database() AS name')).rows[0].name;
    const { rows } = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    console.log('CLONE ' + JSON.stringify({ i, name, tables: rows.map((row) => row.tablename) }));
    await client.end();
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

function expectServerGone(run: GulpRun): void {
  const dataDir = dataDirFromOutput(run.output);
  expect(existsSync(dataDir), `${dataDir} left behind`).to.equal(false);
  expect(serverProcessesFor(dataDir)).to.deep.equal([]);
}

describe('gulp db:run', function () {
  let project: TestProject;
  beforeEach(() => {
    project = createTestProject();
    project.addMigrations('starter');
  });
  afterEach(async () => {
    if (existsSync(keptStatePath(project.dir))) await runGulp(['db:stop'], { cwd: project.dir });
    project.remove();
  });

  it("runs the team's mocha tests against the migrated database, and exits with their status", async () => {
    project.writeFile('db.test.js', PASSING_TEST);
    project.writeFile('wishful.test.js', FAILING_TEST);
    // Side by side: two servers of their own.
    const [passing, failing] = await Promise.all([
      runGulp(['db:run', '--run', `${MOCHA} db.test.js`], { cwd: project.dir, env: EMBEDDED }),
      runGulp(['db:run', '--run', `${MOCHA} wishful.test.js`], { cwd: project.dir, env: EMBEDDED }),
    ]);
    expect(passing.code, passing.output).to.equal(0);
    expect(passing.output).to.match(
      /Running `.*mocha .*db\.test\.js` with DATABASE_URL=postgresql:\/\/contentuser:\*\*\*\*@127\.0\.0\.1:\d+\/contenthub \(and DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD\)/,
    );
    expect(passing.output).to.include('1 passing');
    expect(passing.output).to.match(/`.*mocha .*` passed \(exit status 0\) in /);
    expect(passing.output.indexOf('passed (exit status 0)')).to.be.lessThan(passing.output.indexOf("Starting 'teardown'"));
    expectServerGone(passing);

    expect(failing.code, failing.output).to.equal(2);
    expect(failing.output).to.include('2 failing');
    expect(failing.output).to.match(/`.*mocha .*wishful\.test\.js` failed with exit status 2 after [\d.]+ m?s: gulp exits with 2/);
    expect(failing.output).to.match(/Stopped the embedded database and removed its files/);
    expectServerGone(failing);
  });

  it('--clones 3 hands over three copies of the migrated database as DATABASE_URL_1 … DATABASE_URL_3', async () => {
    project.writeFile('print-clones.js', PRINT_CLONES);
    const run = await runGulp(['db:run', '--clones', '3', '--run', `node print-clones.js`], { cwd: project.dir, env: EMBEDDED });
    expect(run.code, run.output).to.equal(0);
    const clones = [...run.output.matchAll(/^CLONE (.*)$/gm)].map((match) => JSON.parse(match[1]!) as { i: number; name: string; tables: string[] });
    expect(clones.map((clone) => clone.i)).to.deep.equal([1, 2, 3]);
    expect(new Set(clones.map((clone) => clone.name)).size).to.equal(3);
    for (const clone of clones) {
      expect(clone.name).to.match(/^contenthub_[0-9a-f]{6}_\d$/);
      expect(clone.tables).to.include.members(STARTER_TABLES);
    }
    expect(run.output).to.match(
      /Made 3 copies of contenthub for parallel test workers in \d+ ms: DATABASE_URL_1 … DATABASE_URL_3 \(contenthub_[0-9a-f]{6}_1 … contenthub_[0-9a-f]{6}_3\)/,
    );
    expect(run.output).to.include('(and DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD, DATABASE_URL_1 … DATABASE_URL_3)');
    expect(run.output).not.to.match(/Applied \d+ migrations[\s\S]*Applied \d+ migrations/);
    expectServerGone(run);
  });

  it("exits with the command's status (`exit 3` → 3)", async () => {
    const run = await runGulp(['db:run', '--run', 'exit 3'], { cwd: project.dir, env: EMBEDDED });
    expect(run.code, run.output).to.equal(3);
    expect(run.output).to.include('`exit 3` failed with exit status 3');
    expect(run.output, 'a failing command was reported as an errored task').not.to.match(/errored|\n\s+at /);
    expectServerGone(run);
  });

  it('on Ctrl-C stops the command (its process group) first, then the server', async () => {
    const pidFile = path.join(project.dir, 'sleep.pid');
    const gulp = startGulp(['db:run', '--run', 'echo $$ > sleep.pid && exec sleep 30'], { cwd: project.dir, env: EMBEDDED });
    for (let waited = 0; !existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === ''; waited += 50) {
      if (waited > 30_000) throw new Error(`the command never started:\n${gulp.output()}`);
      await sleep(50);
    }
    const sleepPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(isAlive(sleepPid)).to.equal(true);
    gulp.kill('SIGINT');
    const run = await gulp.done;
    expect(run.signal ?? run.code, run.output).to.equal('SIGINT');
    expect(run.output).to.include('Received SIGINT: stopping what this run started');
    expect(run.output, 'a consequence of the interruption was reported as an error').not.to.match(/errored|hint:|\n\s+at /);
    expect(isAlive(sleepPid), 'sleep 30 is still running').to.equal(false);
    expectServerGone(run);
  });

  it('refuses a missing --run, --clones 0 and --clones abc before starting a server', async () => {
    const cases: [string[], string][] = [
      [['db:run'], '--run COMMAND is required: the command to run against the migrated database, e.g. --run "npm test"'],
      [['db:run', '--run', 'true', '--clones', '0'], '--clones must be a whole number from 1 to 64 (the copies of the migrated database to make), got "0"'],
      [['db:run', '--run', 'true', '--clones', 'abc'], '--clones must be a whole number from 1 to 64 (the copies of the migrated database to make), got "abc"'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runGulp(args, { cwd: project.dir, env: EMBEDDED })));
    runs.forEach((run, index) => {
      expect(run.code, run.output).to.equal(1);
      expect(run.output).to.include(cases[index]![1]);
      expect(run.output).to.include('hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again');
      expect(run.output).not.to.include('Database provider');
      expect(run.output).not.to.match(/\n\s+at /);
    });
  });

  it('drops the copies on a kept database, and explains an external database that may not create any', async () => {
    const kept = await runGulp(['db:run', '--clones', '2', '--run', 'true'], { cwd: project.dir, env: { ...EMBEDDED, KEEP_DB: '1' } });
    expect(kept.code, kept.output).to.equal(0);
    expect(kept.output).to.match(/Dropped the 2 copies of contenthub \(contenthub_[0-9a-f]{6}_1, contenthub_[0-9a-f]{6}_2\)/);
    const state = JSON.parse(readFileSync(keptStatePath(project.dir), 'utf8')) as KeptDatabaseState;
    const databases = await query<{ datname: string }>(state.superuserUrl, 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1');
    expect(databases.map((row) => row.datname)).to.deep.equal(['contenthub', 'postgres']);

    // The application role has no CREATEDB: on an external database only it connects.
    const external = await runGulp(['db:run', '--clones', '1', '--run', 'true'], {
      cwd: project.dir,
      env: { DB_PROVIDER: 'external', DATABASE_URL: state.url },
    });
    expect(external.code, external.output).to.equal(1);
    expect(external.output).to.include('--clones: role contentuser may not copy the database contenthub at 127.0.0.1:');
    expect(external.output).to.include('hint: CREATE DATABASE … TEMPLATE needs a role with CREATEDB');
    expect(external.output).not.to.include('Running `true`');
    for (const run of [kept, external]) expect(run.output).not.to.include(decodeURIComponent(new URL(state.url).password));
  });
});

describe('db:run without a server', () => {
  it('reports a command ended by a signal as 128 + n, and stops what it left running in its process group', async function () {
    const dir = createTestProject();
    try {
      const logged: string[] = [];
      const logger = { info() {}, warn: (line: string) => logged.push(line), error() {} };
      const killed = await runShellCommand({ command: 'kill -TERM $$', cwd: dir.dir, env: process.env, cleanups: new Cleanups(), logger });
      expect(killed).to.include({ code: 143, signal: 'SIGTERM', stopped: false });

      const left = await runShellCommand({ command: 'sleep 30 & echo $! > bg.pid', cwd: dir.dir, env: process.env, cleanups: new Cleanups(), logger });
      expect(left.code).to.equal(0);
      expect(isAlive(Number(readFileSync(path.join(dir.dir, 'bg.pid'), 'utf8')))).to.equal(false);
      expect(logged).to.deep.equal(['`sleep 30 & echo $! > bg.pid` ended but left processes running in its process group: stopping them']);
    } finally {
      dir.remove();
    }
  });

  it('builds the environment: DATABASE_URL, its DB_* parts, the copies, and no DATABASE_URL_n of another run', () => {
    const env = databaseEnv(
      { PATH: '/bin', DATABASE_URL_7: 'postgresql://stale', DATABASE_URL: 'postgresql://old' },
      'postgresql://app:p%40ss@127.0.0.1:5433/hub',
      [{ name: 'hub_abc123_1', url: 'postgresql://app:p%40ss@127.0.0.1:5433/hub_abc123_1' }],
    );
    expect(env).to.deep.equal({
      PATH: '/bin',
      DATABASE_URL: 'postgresql://app:p%40ss@127.0.0.1:5433/hub',
      DB_HOST: '127.0.0.1',
      DB_PORT: '5433',
      DB_NAME: 'hub',
      DB_USER: 'app',
      DB_PASSWORD: 'p@ss',
      DATABASE_URL_1: 'postgresql://app:p%40ss@127.0.0.1:5433/hub_abc123_1',
    });
  });

  it("names a copy <database>_<tag>_<i>, shortening the database's part to PostgreSQL's 63 bytes", () => {
    expect(cloneName('contenthub', 'a1b2c3', 12)).to.equal('contenthub_a1b2c3_12');
    const long = cloneName('é'.repeat(40), 'a1b2c3', 64);
    expect(Buffer.byteLength(long)).to.be.at.most(63);
    expect(long).to.match(/^é+_a1b2c3_64$/);
  });

  it('validates --run and --clones with the other settings', () => {
    const resolve = (argv: string[]) => () => resolveSettings({ env: {}, argv, cwd: REPO_ROOT, startsDatabase: true, runsCommand: true });
    expect(resolve(['--run', '  '])).to.throw('--run needs a command, e.g. --run "npm test"');
    expect(resolve(['--run', '--clones', '2'])).to.throw('--run needs a command as its value, got the flag "--clones"');
    expect(resolve(['--run', 'true', '--clones', '65'])).to.throw('--clones must be a whole number from 1 to 64');
    expect(resolve(['--run', ' npm test ', '--clones', '64'])().command).to.include({ run: 'npm test', clones: 64 });
    expect(resolveSettings({ env: {}, argv: [], cwd: REPO_ROOT, startsDatabase: true }).command.clones).to.equal(0);
  });
});
