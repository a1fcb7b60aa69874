// Faults of the database server under a run: a batch interrupted mid-way, a frozen or damaged server, what the server
// says about a failure. Split from faults.test.ts so that the two files share the test workers.
import { expect } from 'chai';
import { closeSync, chmodSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDirFromOutput, query, serverProcessesFor, startTestServer, tableNames } from '../support/database';
import { createTestProject, finished, runGulp, startGulp, untilSlowMigrationRuns } from '../support/project';

describe('server faults', function () {
  this.timeout(120_000);

  it("what the server said besides its message (DETAIL, HINT, CONTEXT) is in the error: the duplicated key, a RAISE's hint and line", async () => {
    const server = await startTestServer();
    const project = createTestProject();
    try {
      mkdirSync(project.migrationsDir);
      project.writeFile(
        'migrations/1700000000001_emails.sql',
        "CREATE TABLE people (email text);\nINSERT INTO people VALUES ('ann@example.com'), ('ann@example.com');\n",
      );
      project.writeFile('migrations/1700000000002_unique_email.sql', 'CREATE UNIQUE INDEX people_email ON people (email);\n');
      const url = await server.freshDatabase('notes');
      // --no-lint: its pre-flight would refuse the index without CONCURRENTLY before the server is asked.
      const unique = await runGulp(['migrate', '--no-lint'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(unique.code, unique.output).to.equal(1);
      // Before, only 'could not create unique index "people_email"': which key, the server knew and said.
      expect(unique.output).to.match(
        /failed \(up\): could not create unique index "people_email"\nDETAIL: Key \(email\)=\(ann@example\.com\) is duplicated\.\n/,
      );

      project.writeFile(
        'migrations/1700000000002_unique_email.sql',
        "DO $$\nBEGIN\n  RAISE EXCEPTION 'emails are not unique yet' USING DETAIL = '2 rows share one', HINT = 'run the clean-up first';\nEND\n$$;\n",
      );
      const raised = await runGulp(['migrate', '--no-lint'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(raised.code, raised.output).to.equal(1);
      expect(raised.output).to.match(
        /failed \(up\): emails are not unique yet\nDETAIL: 2 rows share one\nHINT: run the clean-up first\nCONTEXT: PL\/pgSQL function inline_code_block line 3 at RAISE\n/,
      );
    } finally {
      project.remove();
      await server.stop();
    }
  });

  it('a pgm.noTransaction() migration failing at its second statement: the error says its first one stays and it is not recorded', async () => {
    const server = await startTestServer();
    const project = createTestProject();
    try {
      mkdirSync(project.migrationsDir);
      project.writeFile(
        'migrations/1700000000001_outside.ts',
        "import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  pgm.noTransaction();\n  pgm.sql('CREATE TABLE half_done (id int)');\n  pgm.sql('SELECT 1/0');\n};\n\nexport const down = false;\n",
      );
      const url = await server.freshDatabase('outside');
      const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(run.code, run.output).to.equal(1);
      // Before, the error said "Single transaction: the whole run was rolled back; the database is as it was before."
      expect(run.output).to.include(
        '1700000000001_outside ran outside a transaction (pgm.noTransaction()): 1 of its 2 statements ran and stay, but it is not recorded as applied.',
      );
      expect(run.output).not.to.include('the database is as it was before');
      expect(await tableNames(url)).to.deep.equal(['half_done', 'pgmigrations', 'pgmt_migration_checksums']);
    } finally {
      project.remove();
      await server.stop();
    }
  });

  it('a database whose catalog has a damaged page: `gulp migrate` stops at once saying so (no 30 s of retries), exit 1', async () => {
    const server = await startTestServer();
    const project = createTestProject();
    try {
      project.addMigrations('slow');
      const superuser = server.database.superuserUrl!;
      // Files copied, not written through shared buffers: the damaged page is read from disk by the first connection.
      await query(superuser, 'CREATE DATABASE damaged STRATEGY = FILE_COPY');
      const [{ oid, dataDir }] = await query<{ oid: number; dataDir: string }>(
        superuser,
        "SELECT oid::int AS oid, current_setting('data_directory') AS \"dataDir\" FROM pg_database WHERE datname = 'damaged'",
      );
      const file = openSync(path.join(dataDir, 'base', String(oid), '1259'), 'r+');
      writeSync(file, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
      closeSync(file);
      const url = new URL(superuser);
      url.pathname = '/damaged';
      const started = Date.now();
      const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: url.toString() } });
      expect(run.code, run.output).to.equal(1);
      expect(Date.now() - started, run.output).to.be.below(15_000);
      expect(run.output).to.match(/the database "damaged" at 127\.0\.0\.1:\d+ is damaged: invalid page in block 0 of relation "base\/\d+\/1259"/);
      expect(run.output).to.include('hint: for a database these tasks started, remove it (`gulp db:stop`) and run the command again');
      expect(run.output).not.to.include('gave up waiting');
    } finally {
      project.remove();
      await server.stop();
    }
  });

  it('a frozen server (every process SIGSTOPped) mid-migration under migrate:local: "still waiting", a clear error after --timeout, no hang; the server removed, backends included', async () => {
    const project = createTestProject();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'faults-'));
    chmodSync(tmp, 0o755);
    /** The postmaster and its backends (its children, each in a session of its own). */
    const serverOf = (postmaster: number) =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .filter((entry) => {
          try {
            const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
            const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            return state !== 'Z' && (Number(entry) === postmaster || Number(ppid) === postmaster || (Number(ppid) === 1 && backends.has(Number(entry))));
          } catch {
            return false;
          }
        })
        .map(Number);
    /** Every backend seen, also once handed to init after the postmaster went. */
    const backends = new Set<number>();
    let postmaster: number | undefined;
    try {
      project.addMigrations('slow');
      const marker = path.join(project.dir, 'slow-marker');
      const gulp = startGulp(['migrate:local', '--timeout', '5'], {
        cwd: project.dir,
        env: { DB_PROVIDER: 'embedded', TMPDIR: tmp, SLOW_MIGRATION_MARKER: marker },
      });
      await untilSlowMigrationRuns(gulp, marker);
      postmaster = serverProcessesFor(dataDirFromOutput(gulp.output()))[0]!;
      const server = serverOf(postmaster);
      for (const pid of server) if (pid !== postmaster) backends.add(pid);
      expect(backends.size, 'the backends of the postmaster').to.be.above(3);
      for (const pid of server) process.kill(pid, 'SIGSTOP');
      const run = await finished(gulp, 'gulp migrate:local against its frozen server');
      expect(run.code, run.output).to.equal(1);
      expect(run.output).to.match(/Still waiting for the server during migration 1000000000001_slow \(.+\): it has not answered a new connection for/);
      expect(run.output).to.match(
        /the server at postgresql:\/\/\S+ stopped answering during migration 1000000000001_slow: nothing, not even a new connection, for \d+(\.\d)? s; the run was ended/,
      );
      expect(run.output).to.include('DB_WAIT_TIMEOUT (--timeout) sets how long a server may not answer');
      expect(run.output, 'a stack trace was printed').not.to.match(/\n\s+at /);
      // Before, the teardown waited 10 s for the stopped postmaster, then SIGKILLed it alone: its backends stayed, stopped.
      expect(serverOf(postmaster), 'processes of the frozen server were left behind').to.deep.equal([]);
      expect(readdirSync(tmp).filter((name) => name.startsWith('pgmt-'))).to.deep.equal([]);
    } finally {
      for (const pid of postmaster === undefined ? [] : serverOf(postmaster)) {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      }
      project.remove();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
