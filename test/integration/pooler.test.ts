import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { assertSessionPooling, PoolerCheckError, TransactionPoolerError } from '../../tasks/db/pooler';
import { withClient } from '../../tasks/db/pg-client';
import { freePort } from '../../tasks/providers/free-port';
import { serverIdentity, type OsIdentity } from '../../tasks/providers/os-user';
import { buildUrl, parseDatabaseUrl, type ConnectionParts } from '../../tasks/settings/settings';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createRecordingLogger } from '../support/recording-logger';
import { createTestProject, runGulp, type GulpRun, type TestProject } from '../support/project';

const PGBOUNCER = '/usr/sbin/pgbouncer';
/** Databases PgBouncer pools per transaction; every other one (its `*` entry) per session. */
const TRANSACTION_DATABASES = ['tx_one', 'tx_six', 'tx_probe'];
/** A session pool of one server: the check's probe waits for a server the run's session holds. */
const SINGLE_SERVER_DATABASE = 'session_single';
const MIGRATION_COUNT = 10;
const REFUSAL =
  /the database at postgres(?:ql)?:\/\/contentuser:\*\*\*\*@127\.0\.0\.1:\d+\/\w+ is behind a pooler in transaction-pooling mode \(the server backend changed between statements of one session\): session advisory locks and SET do not hold there, so two runs could apply the same migration twice; nothing was run/;
const HINT =
  "hint: connect directly to PostgreSQL for migrations (a DATABASE_URL with the server's own host and port, e.g. a separate one for migrations), or use a pool in session mode (PgBouncer: pool_mode = session)";

interface PgBouncer {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs Debian's PgBouncer in the foreground in `dir`, in front of the server on `serverPort` (as the unprivileged
 * `identity` when we are root: it refuses to run as root), and resolves once it logs "process up".
 */
async function startPgBouncer(dir: string, serverPort: number, user: Pick<ConnectionParts, 'user' | 'password'>, identity: OsIdentity): Promise<PgBouncer> {
  // Another process may take the free port before PgBouncer binds it: then another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchPgBouncer(dir, await freePort(), serverPort, user, identity);
    } catch (error) {
      if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function launchPgBouncer(
  dir: string,
  port: number,
  serverPort: number,
  user: Pick<ConnectionParts, 'user' | 'password'>,
  identity: OsIdentity,
): Promise<PgBouncer> {
  const server = `host=127.0.0.1 port=${serverPort}`;
  const config = path.join(dir, 'pgbouncer.ini');
  writeFileSync(
    config,
    [
      '[databases]',
      ...TRANSACTION_DATABASES.map((name) => `${name} = ${server} pool_mode=transaction`),
      `${SINGLE_SERVER_DATABASE} = ${server} pool_size=1`,
      `* = ${server}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
      'logfile =',
      'pool_mode = session',
      'default_pool_size = 20',
      'max_client_conn = 200',
      // No ignore_startup_parameters: the tasks' connections must not need it.
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'userlist.txt'), `"${user.user}" "${user.password.replace(/"/g, '""')}"\n`, { mode: 0o600 });
  if (identity.uid !== undefined) for (const file of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(path.join(dir, file), identity.uid, identity.gid!);
  const asUser = identity.uid === undefined ? [] : ['--reuid', String(identity.uid), '--regid', String(identity.gid), '--init-groups'];
  // setpriv execs PgBouncer (same pid); --pdeathsig: it dies with this process, even when mocha is killed.
  const child: ChildProcess = spawn('setpriv', [...asUser, '--pdeathsig', 'SIGKILL', PGBOUNCER, config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const up = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PgBouncer did not start within 10 s:\n${output}`)), 10_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('process up')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PgBouncer exited (${code}) before it was up:\n${output}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  try {
    await up;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

describe('transaction-mode connection poolers (a real PgBouncer)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let project: TestProject;
  let bouncer: PgBouncer | undefined;
  let dir: string | undefined;
  let app: ConnectionParts;

  before(async function () {
    if (!existsSync(PGBOUNCER)) {
      console.log(`      skipped: ${PGBOUNCER} is not installed (Debian's pgbouncer package; .ci/run installs it)`);
      this.skip();
    }
    server = await startTestServer();
    app = parseDatabaseUrl(server.database.url, [])!;
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-pgbouncer-'));
    bouncer = await startPgBouncer(dir, app.port, app, await serverIdentity('postgres'));
    project = createTestProject();
    project.addMigrations('batch');
  });
  afterEach(function () {
    // What PgBouncer saw (logins, server connections, errors), for a failure in CI.
    if (this.currentTest?.state === 'failed' && bouncer) console.log(`PgBouncer's log:\n${bouncer.output().split('\n').slice(-40).join('\n')}`);
  });
  after(async () => {
    await bouncer?.stop();
    await server?.stop();
    project?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh database; returns its direct URL and its URL through PgBouncer. */
  async function database(name: string): Promise<{ direct: string; pooled: string }> {
    const direct = await server.freshDatabase(name);
    return { direct, pooled: buildUrl({ ...app, database: name, port: bouncer!.port }) };
  }
  const migrate = (url: string, args: string[] = []) => runGulp(['migrate', ...args], { cwd: project.dir, env: { DATABASE_URL: url } });
  const applied = (run: GulpRun) => new RegExp(`Applied ${MIGRATION_COUNT} migrations in \\d+ ms`).test(run.output);
  const upToDate = (run: GulpRun) => run.output.includes('Already up to date: no pending migrations');
  const advisoryLocks = async (direct: string) =>
    Number(
      (
        await query<{ n: string }>(
          direct,
          "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
      )[0]!.n,
    );
  /** Each migration of the project exactly once in the ledger, in order. */
  async function expectAppliedOnce(direct: string): Promise<void> {
    const rows = await query<{ name: string; rows: string }>(direct, 'SELECT name, count(*) AS rows FROM pgmigrations GROUP BY name ORDER BY min(id)');
    const names = readdirSync(project.migrationsDir)
      .map((file) => path.parse(file).name)
      .sort();
    expect(rows).to.deep.equal(names.map((name) => ({ name, rows: '1' })));
  }
  function expectRefused(run: GulpRun): void {
    expect(run.code, run.output).to.equal(1);
    expect(run.output, run.output).to.match(REFUSAL);
    expect(run.output).to.include(HINT);
    expect(run.output).not.to.include(app.password);
    expect(run.output).not.to.match(/↑ 1200/);
  }

  it('transaction mode: `gulp migrate` exits 1 saying so, with the hint; nothing is applied, no lock is left', async () => {
    const { direct, pooled } = await database('tx_one');
    expectRefused(await migrate(pooled));
    expect(await tableNames(direct)).to.deep.equal([]);
    expect(await advisoryLocks(direct)).to.equal(0);
  });

  it('transaction mode, six `gulp migrate` at once: all refuse, nothing is applied, no advisory lock is held afterwards', async () => {
    const { direct, pooled } = await database('tx_six');
    const runs = await Promise.all(Array.from({ length: 6 }, () => migrate(pooled)));
    for (const run of runs) expectRefused(run);
    expect(await tableNames(direct)).to.deep.equal([]);
    expect(await advisoryLocks(direct)).to.equal(0);
  });

  it('session mode: `gulp migrate` applies the migrations and `migrate:status` works', async () => {
    const { direct, pooled } = await database('session_one');
    const run = await migrate(pooled);
    expect(run.code, run.output).to.equal(0);
    expect(applied(run), run.output).to.equal(true);
    await expectAppliedOnce(direct);
    const status = await runGulp(['migrate:status'], { cwd: project.dir, env: { DATABASE_URL: pooled } });
    expect(status.code, status.output).to.equal(0);
    expect(status.output).to.include('1200000000010_add_accounts_note');
    expect(status.output).not.to.match(/pending|drift/i);
  });

  it('session mode, two `gulp migrate` at once: each migration is applied once; the other run is refused or up to date', async () => {
    const { direct, pooled } = await database('session_two');
    const runs = await Promise.all([migrate(pooled), migrate(pooled)]);
    expect(runs.filter(applied), runs.map((run) => run.output).join('\n---\n')).to.have.length(1);
    for (const run of runs.filter((run) => !applied(run))) {
      const refused = run.code === 1 && run.output.includes('another migration is running on this database');
      expect(refused || (run.code === 0 && upToDate(run)), run.output).to.equal(true);
    }
    await expectAppliedOnce(direct);
    expect(await advisoryLocks(direct)).to.equal(0);
  });

  it('the check itself: not flagged directly (one query, no second connection) or through a session pool (returning the real backend pid), flagged in transaction mode', async () => {
    const { direct, pooled } = await database('tx_probe');
    const session = await database('session_probe');
    const logger = createRecordingLogger();
    for (const url of [direct, session.pooled]) {
      await withClient(url, async (client) => {
        const pid = await assertSessionPooling(client, url, logger);
        expect(pid).to.equal((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      });
    }
    // Directly, PostgreSQL's own backend key already says so (no probe); through the session pool the probe tells.
    expect(logger.lines.filter((line) => line.startsWith('debug: Behind a pooler in session mode'))).to.have.length(1);
    const error = await withClient(pooled, (client) =>
      assertSessionPooling(client, pooled, logger).then(
        () => undefined,
        (caught: unknown) => caught,
      ),
    );
    expect(error).to.be.instanceOf(TransactionPoolerError);
  });

  it('when the check cannot tell (the probe is refused, or waits for the only server of a session pool), the run is refused too', async () => {
    const { pooled } = await database(SINGLE_SERVER_DATABASE);
    const closedPort = buildUrl({ ...app, database: SINGLE_SERVER_DATABASE, port: await freePort() });
    const client = new Client({ connectionString: pooled });
    await client.connect();
    try {
      for (const probeUrl of [closedPort, pooled]) {
        const started = Date.now();
        const error = await assertSessionPooling(client, probeUrl, createRecordingLogger(), 1_500).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(Date.now() - started).to.be.below(5_000);
        // Before, the check said so at debug level and the run went on (through a busy transaction pool too: the probe
        // gave up after 2 s, and ten migrations were applied in transaction mode).
        expect(error).to.be.instanceOf(PoolerCheckError);
        expect(String(error)).to.match(
          /is behind a connection pooler \(it hands out connection ids of its own\), and its pooling mode could not be checked: a second connection, which tells session from transaction pooling, failed or got no server within 2 s \(.+\)\. In transaction mode two runs could apply the same migration twice, so nothing was run/,
        );
        expect((error as TransactionPoolerError).hint).to.match(/^connect directly to PostgreSQL for migrations .*leave the check a second server connection/);
        expect(String(error)).not.to.include(app.password);
      }
    } finally {
      await client.end();
    }
  });

  it('a direct connection is not flagged', async () => {
    const { direct } = await database('direct_one');
    const run = await migrate(direct);
    expect(run.code, run.output).to.equal(0);
    expect(applied(run), run.output).to.equal(true);
    expect(run.output).not.to.include('transaction-pooling');
  });
});
