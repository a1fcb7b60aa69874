import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { withClient } from '../../tasks/db/pg-client';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, runGulp, startGulp, type TestProject } from '../support/project';

const ts = (up: string, down: string) =>
  `import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  ${up}\n};\n\nexport const down = (pgm: MigrationBuilder): void => {\n  ${down}\n};\n`;

const MIGRATIONS: Record<string, string> = {
  '1800000000000_create_accounts.ts': ts("pgm.createTable('accounts', { id: 'id', email: 'text' });", "pgm.dropTable('accounts');"),
  '1800000001000_create_orders.ts': ts(
    "pgm.createTable('orders', { id: 'id', account_id: { type: 'integer', references: 'accounts' } });",
    "pgm.dropTable('orders');",
  ),
  '1800000002000_add_accounts_note.ts': ts("pgm.addColumn('accounts', { note: 'text' });", "pgm.dropColumn('accounts', 'note');"),
};
const NAMES = Object.keys(MIGRATIONS).map((file) => file.replace(/\.ts$/, ''));

describe('fleets: many databases or schemas, one command', function () {
  this.timeout(120_000);
  let server: TestServer;
  let second: TestServer;
  let project: TestProject;

  before(async () => {
    [server, second] = await Promise.all([startTestServer(), startTestServer()]);
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    for (const [name, text] of Object.entries(MIGRATIONS)) project.writeFile(`migrations/${name}`, text);
  });
  after(async () => {
    project?.remove();
    await Promise.all([server?.stop(), second?.stop()]);
  });

  async function databases(prefix: string, n: number, on: TestServer = server): Promise<{ name: string; url: string }[]> {
    return Promise.all(Array.from({ length: n }, async (_, i) => ({ name: `${prefix}${i + 1}`, url: await on.freshDatabase(`${prefix}${i + 1}`) })));
  }
  const applied = async (url: string, schema = 'public') =>
    (await query<{ name: string }>(url, `SELECT name FROM ${schema}.pgmigrations ORDER BY id`).catch(() => [])).map((row) => row.name);
  const writeTargets = (file: string, targets: unknown) => project.writeFile(file, JSON.stringify(targets, null, 2));
  const breakTarget = (url: string) => query(url, 'CREATE TABLE orders (id int)');

  it('migrates every database of a targets file across two servers, a few at a time on one connection each; a password only in the environment', async () => {
    const first = await databases('mixed_a', 5);
    const other = await databases('mixed_b', 2, second);
    const targets = [...first, { name: other[0]!.name, env: 'TENANT_B1_URL' }, other[1]!];
    writeTargets('fleet.json', targets);
    const password = new URL(first[0]!.url).password;
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await query<{ n: string }>(
          server.database.superuserUrl!,
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname LIKE 'mixed_a%' AND backend_type = 'client backend'",
        );
        peak = Math.max(peak, Number(row!.n));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const run = await runGulp(['migrate', '--targets', 'fleet.json', '--concurrency', '2'], { cwd: project.dir, env: { TENANT_B1_URL: other[0]!.url } });
    sampling = false;
    await sampler;
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('Fleet: 7 targets (from fleet.json), 2 at a time');
    for (const { name } of [...first, ...other]) expect(run.output).to.match(new RegExp(`✓ ${name}: 3 applied in \\d+ ms`));
    expect(run.output).to.match(/migrated +7/);
    for (const { url } of [...first, ...other]) expect(await applied(url)).to.deep.equal(NAMES);
    expect(peak, 'connections to the first server’s fleet databases at once').to.be.within(1, 2);
    expect(run.output).not.to.include(password);
    // The password of the URL in the file is warned about, and masked.
    expect(run.output).to.include('fleet.json: the URL of mixed_a1, mixed_a2, mixed_a3, mixed_a4, mixed_a5, mixed_b2 holds a password');

    const again = await runGulp(['migrate', '--targets', 'fleet.json'], { cwd: project.dir, env: { TENANT_B1_URL: other[0]!.url } });
    expect(again.code, again.output).to.equal(0);
    expect(again.output).to.match(/up to date +7/);
  });

  it('a broken target in the middle: the running ones finish, no new one starts, exit 1 naming it; fixed, a rerun resumes', async () => {
    const targets = await databases('stop', 5);
    await breakTarget(targets[2]!.url);
    writeTargets('stop.json', targets);
    const run = await runGulp(['migrate', '--targets', 'stop.json', '--concurrency', '1', '--report', 'out/report.json'], { cwd: project.dir });
    expect(run.code).to.equal(1);
    expect(run.output).to.match(/✓ stop1: 3 applied/);
    expect(run.output).to.match(/✗ stop3: migration 1800000001000_create_orders failed/);
    expect(run.output).to.include('- stop4: not started (stopped after a failure; --continue-on-error goes on)');
    expect(run.output).to.include('1 of 5 targets failed: stop3; 2 not started');
    expect(run.output).to.include('the rollout resumes');
    const report = JSON.parse(readFileSync(path.join(project.dir, 'out/report.json'), 'utf8')) as { targets: { name: string; outcome: string }[] };
    expect(report.targets.map((target) => `${target.name} ${target.outcome}`)).to.deep.equal([
      'stop1 ok',
      'stop2 ok',
      'stop3 failed',
      'stop4 skipped',
      'stop5 skipped',
    ]);
    // Its own transaction: nothing of the broken target's run stayed.
    expect(await applied(targets[2]!.url)).to.deep.equal([]);
    expect(await applied(targets[3]!.url)).to.deep.equal([]);

    await query(targets[2]!.url, 'DROP TABLE orders');
    const resumed = await runGulp(['migrate', '--targets', 'stop.json', '--concurrency', '1'], { cwd: project.dir });
    expect(resumed.code, resumed.output).to.equal(0);
    expect(resumed.output).to.include('= stop1: up to date');
    expect(resumed.output).to.match(/✓ stop3: 3 applied/);
    for (const { url } of targets) expect(await applied(url)).to.deep.equal(NAMES);
  });

  it('--continue-on-error migrates all the others; --canary K stops the rollout when a canary fails', async () => {
    const all = await databases('cont', 4);
    await breakTarget(all[1]!.url);
    writeTargets('cont.json', all);
    const run = await runGulp(['migrate', '--targets', 'cont.json', '--concurrency', '1', '--continue-on-error'], { cwd: project.dir });
    expect(run.code).to.equal(1);
    expect(run.output).to.include('1 of 4 targets failed: cont2');
    for (const index of [0, 2, 3]) expect(await applied(all[index]!.url)).to.deep.equal(NAMES);

    const canaries = await databases('canary', 5);
    await breakTarget(canaries[1]!.url);
    writeTargets('canary.json', canaries);
    const canary = await runGulp(['migrate', '--targets', 'canary.json', '--canary', '2', '--continue-on-error'], { cwd: project.dir });
    expect(canary.code).to.equal(1);
    expect(canary.output).to.include('Fleet: 5 targets (from canary.json), 4 at a time, 2 first as canaries');
    expect(canary.output).to.include('- canary3: not started (a canary failed)');
    expect(await applied(canaries[0]!.url)).to.deep.equal(NAMES);
    for (const index of [2, 3, 4]) expect(await applied(canaries[index]!.url)).to.deep.equal([]);
  });

  it('an unreachable target, or one whose variable is unset, is one failed row; --dry-run lists what each would apply', async () => {
    const [good] = await databases('reach', 1);
    writeTargets('reach.json', [good, { name: 'down', url: 'postgres://nobody:pw@127.0.0.1:1/none' }, { name: 'unset', env: 'NO_SUCH_TENANT_URL' }]);
    const dry = await runGulp(['migrate', '--targets', 'reach.json', '--dry-run'], { cwd: project.dir });
    expect(dry.output).to.include(`reach1: would apply 3 migrations: ${NAMES.join(', ')}`);
    expect(await applied(good!.url)).to.deep.equal([]);
    const run = await runGulp(['migrate', '--targets', 'reach.json'], { cwd: project.dir });
    expect(run.code).to.equal(1);
    expect(run.output).to.match(/✗ down: .*ECONNREFUSED|✗ down: .*refused/);
    expect(run.output).to.include('✗ unset: NO_SUCH_TENANT_URL is not set');
    expect(run.output).to.include('2 of 3 targets failed: down, unset');
    expect(await applied(good!.url)).to.deep.equal(NAMES);
    expect(run.output).not.to.match(/Error: |at .*\.ts:\d+/);
  });

  it('migrate:status --targets prints the matrix: applied, pending, drifted per target, with the exit bits', async () => {
    const all = await databases('matrix', 3);
    writeTargets('matrix.json', all);
    await runGulp(['migrate', '--targets', 'matrix.json'], { cwd: project.dir });
    await runGulp(['migrate', '--direction', 'down'], { cwd: project.dir, env: { DATABASE_URL: all[1]!.url } });
    await query(all[2]!.url, "INSERT INTO pgmigrations (name, run_on) VALUES ('1700000000000_gone', now())");
    const status = await runGulp(['migrate:status', '--targets', 'matrix.json'], { cwd: project.dir });
    expect(status.code).to.equal(2 | 4);
    expect(status.output).to.match(/target +applied +pending +drifted +state/);
    expect(status.output).to.match(/matrix1 +3 +0 +0 +up to date/);
    expect(status.output).to.match(/matrix2 +2 +1 +0 +pending/);
    expect(status.output).to.match(/matrix3 +3 +0 +1 +drift/);
  });

  it('migrate:drift --targets compares each database with what its own applied migrations produce; it only reads them', async () => {
    const all = await databases('drift', 3);
    writeTargets('drift.json', all);
    await runGulp(['migrate', '--targets', 'drift.json'], { cwd: project.dir });
    await runGulp(['migrate', '--direction', 'down'], { cwd: project.dir, env: { DATABASE_URL: all[1]!.url } });
    await query(all[2]!.url, 'ALTER TABLE accounts ADD COLUMN legacy_id integer');
    const drift = await runGulp(['migrate:drift', '--targets', 'drift.json'], { cwd: project.dir, env: { DB_PROVIDER: 'embedded' } });
    expect(drift.code, drift.output).to.equal(4);
    expect(drift.output).to.include('= drift1: no drift');
    expect(drift.output).to.include('= drift2: no drift');
    expect(drift.output).to.include('✗ drift3: differs in 1 place:');
    expect(drift.output).to.include('+ column "legacy_id" on accounts: only in the live database');
    expect(drift.output).to.include('2 without drift, 1 drifted, 0 unreadable');
    expect(await applied(all[1]!.url)).to.deep.equal(NAMES.slice(0, 2));
  });

  it('--schemas: five schemas of one database, each with its own ledger in it; as a list and as a query', async () => {
    const url = await server.freshDatabase('tenants');
    const run = await runGulp(['migrate', '--schemas', 'tenant_a,tenant_b,tenant_c,tenant_d,tenant_e'], { cwd: project.dir, env: { DATABASE_URL: url } });
    expect(run.code, run.output).to.equal(0);
    for (const schema of ['tenant_a', 'tenant_b', 'tenant_c', 'tenant_d', 'tenant_e']) {
      expect(await applied(url, schema)).to.deep.equal(NAMES);
      const tables = await query<{ t: string }>(url, `SELECT tablename AS t FROM pg_tables WHERE schemaname = '${schema}' ORDER BY 1`);
      expect(tables.map((row) => row.t)).to.include.members(['accounts', 'orders']);
    }
    expect(await query(url, "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('accounts', 'pgmigrations')")).to.deep.equal([]);

    await withClient(url, (client) => client.query('CREATE SCHEMA tenant_f'));
    const byQuery = await runGulp(['migrate', '--schemas', "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1"], {
      cwd: project.dir,
      env: { DATABASE_URL: url },
    });
    expect(byQuery.code, byQuery.output).to.equal(0);
    expect(byQuery.output).to.match(/up to date +5/);
    expect(byQuery.output).to.match(/✓ tenant_f: 3 applied/);
    const status = await runGulp(['migrate:status', '--schemas', 'tenant_a,tenant_f'], { cwd: project.dir, env: { DATABASE_URL: url } });
    expect(status.code, status.output).to.equal(0);
    expect(status.output).to.match(/tenant_f +3 +0 +0 +up to date/);
  });

  it('refuses what cannot work before connecting anywhere: two fleet sources, a bad file, fleet flags without a fleet', async () => {
    project.writeFile('bad.json', '{ "name": "x" }');
    const bad = await runGulp(['migrate', '--targets', 'bad.json'], { cwd: project.dir });
    expect(bad.code).to.equal(1);
    expect(bad.output).to.include('--targets bad.json must hold a JSON array');
    const both = await runGulp(['migrate', '--targets', 'bad.json', '--schemas', 'a'], { cwd: project.dir });
    expect(both.output).to.include('--targets and --schemas each name the whole fleet: give one of them');
    const alone = await runGulp(['migrate', '--concurrency', '3'], { cwd: project.dir, env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' } });
    expect(alone.code).to.equal(1);
    expect(alone.output).to.include('--concurrency applies to a fleet');
    const schemaName = await runGulp(['migrate', '--schemas', 'ok,"bad;drop"'], { cwd: project.dir, env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' } });
    expect(schemaName.output).to.include('is not a schema name');
    expect(existsSync(path.join(project.dir, 'out', 'bad'))).to.equal(false);
  });

  it('Ctrl-C during a rollout stops it: the running target is cancelled and rolled back, no new one starts', async () => {
    const slow = await databases('slow', 3);
    project.writeFile('slow.json', JSON.stringify(slow));
    const sleeper = path.join(project.dir, 'slow-migrations');
    mkdirSync(sleeper);
    project.writeFile(
      'slow-migrations/1800000000000_sleep.ts',
      ts("pgm.createTable('t', { id: 'id' });\n  pgm.sql('SELECT pg_sleep(20)');", "pgm.dropTable('t');"),
    );
    const gulp = startGulp(['migrate', '--targets', 'slow.json', '--concurrency', '1', '--migrations-dir', 'slow-migrations'], { cwd: project.dir });
    const deadline = Date.now() + 30_000;
    while (!/Fleet: 3 targets/.test(gulp.output()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    gulp.kill('SIGINT');
    const ended = await gulp.done;
    expect(ended.code, ended.output).not.to.equal(0);
    expect(ended.output).not.to.match(/✓ slow2/);
    for (const { url } of slow) expect(await query(url, "SELECT to_regclass('public.t') AS t")).to.deep.equal([{ t: null }]);
  });
});
