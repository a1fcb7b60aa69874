// Hostile and malformed input, each typed as a user would: a real `gulp` process per case. Every refused case must
// exit 1 with its whole message and hint, print no stack trace, change nothing (database, project folder) and leave
// nothing running. Every case uses one distinctive password; the last test checks that no output shows it.
import { expect } from 'chai';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, parseDatabaseUrl, PROVIDER_NAMES } from '../../tasks/settings/settings';
import { withClient } from '../../tasks/db/pg-client';
import { freePort } from '../../tasks/providers/free-port';
import { query, serverProcessesFor, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, runGulp, STARTER_MIGRATIONS, type GulpRun, type TestProject } from '../support/project';

const PASSWORD = 'S3cr3t@:/?#%pw';
const WRONG_PASSWORD = 'Wr0ng@:/?#%pw';
/** Every form in which a password must never be printed: whole, percent-encoded, or a piece cut short (its start). */
const FORBIDDEN = [PASSWORD, encodeURIComponent(PASSWORD), WRONG_PASSWORD, encodeURIComponent(WRONG_PASSWORD), 'S3cr3t', 'Wr0ng'];
const ROLE = 'hostile_app';
const EMBEDDED = { DB_PROVIDER: 'embedded' };

const PENDING = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('notes', { id: 'id', body: { type: 'text', notNull: true } });
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('notes');
};
`;
const THROWS_AT_IMPORT = `import type { MigrationBuilder } from 'node-pg-migrate';

throw new Error('boom at import');

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('never', { id: 'id' });
};
`;
const SYNTAX_ERROR = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('never', { id: 'id' ;
};
`;

/** Everything the cases printed, for the final check that no password shows. */
const outputs: { name: string; output: string }[] = [];

describe('hostile and malformed input: each a real gulp process', function () {
  this.timeout(60_000);
  let server: TestServer;
  /** TMPDIR of every run: an embedded server's temp dir would land here. */
  let tmpRoot: string;
  let port: number;
  /** A database with the starter schema applied, as ROLE, whose password is PASSWORD. */
  let target: string;
  const projects: TestProject[] = [];

  const urlFor = (database: string, password = PASSWORD) => buildUrl({ host: '127.0.0.1', port, database, user: ROLE, password });

  async function createDatabase(name: string): Promise<string> {
    await withClient(server.database.superuserUrl!, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} OWNER ${client.escapeIdentifier(ROLE)}`);
    });
    return urlFor(name);
  }

  /** A project with the starter migrations and one more, not yet applied to `target`: a run that went ahead would apply it. */
  function projectWithPending(): TestProject {
    const project = newProject();
    project.addMigrations('starter');
    project.writeFile('migrations/1900000000000_add_notes.ts', PENDING);
    return project;
  }

  function newProject(): TestProject {
    const project = createTestProject();
    projects.push(project);
    return project;
  }

  async function gulp(name: string, args: string[], project: TestProject, env: Record<string, string> = {}): Promise<GulpRun> {
    const run = await runGulp(args, { cwd: project.dir, env: { TMPDIR: tmpRoot, ...env } });
    outputs.push({ name, output: run.output });
    return run;
  }

  async function snapshot(url: string): Promise<{ tables: string[]; ledger: string[] }> {
    const tables = await tableNames(url);
    const ledger = tables.includes('pgmigrations')
      ? (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY id')).map((row) => row.name)
      : [];
    return { tables, ledger };
  }

  interface RefusedCase {
    args: string[];
    env?: Record<string, string>;
    project?: TestProject;
    /** The whole error gulp prints: message and hint. */
    error: string;
    /** The database that must stay unchanged (default: target). */
    database?: string;
  }

  /** Runs one refused case and checks everything the issue asks of it; returns the run for extra checks. */
  async function expectRefused(name: string, { args, env = {}, project = projectWithPending(), error, database = target }: RefusedCase): Promise<GulpRun> {
    const databaseBefore = await snapshot(database);
    const filesBefore = listTree(project.dir);
    const run = await gulp(name, args, project, env);
    expect(run.code, run.output).to.equal(1);
    expect(errorBlock(run.output), run.output).to.equal(error);
    expect(run.output, 'a stack trace was printed').not.to.match(/\n\s+at /);
    expect(await snapshot(database), 'the database changed').to.deep.equal(databaseBefore);
    expect(listTree(project.dir), 'the project folder changed').to.deep.equal(filesBefore);
    expect(leftovers(tmpRoot), run.output).to.deep.equal({ tempDirs: [], servers: [] });
    return run;
  }

  before(async () => {
    tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'hostile-input-'));
    chmodSync(tmpRoot, 0o755); // the embedded server's OS user must traverse it
    server = await startTestServer();
    port = parseDatabaseUrl(server.database.url, [])!.port;
    await withClient(server.database.superuserUrl!, (client) =>
      client.query(`CREATE ROLE ${client.escapeIdentifier(ROLE)} LOGIN PASSWORD ${client.escapeLiteral(PASSWORD)}`),
    );
    target = await createDatabase('hostile_target');
    const setup = newProject();
    setup.addMigrations('starter');
    const run = await gulp('setup', ['migrate'], setup, { DATABASE_URL: target });
    if (run.code !== 0) throw new Error(`could not apply the starter schema:\n${run.output}`);
  });
  after(async () => {
    await server?.stop();
    for (const project of projects) project.remove();
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  });

  describe('connection settings', () => {
    it('no DATABASE_URL and no DB_* at all', async () => {
      await expectRefused('missing DATABASE_URL', {
        args: ['migrate'],
        error:
          'DATABASE_URL is required: set it, or set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)\n' +
          '  hint: point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one; then run the command again',
      });
    });

    it('an empty DATABASE_URL, with only DB_PASSWORD set', async () => {
      await expectRefused('empty DATABASE_URL', {
        args: ['migrate'],
        env: { DATABASE_URL: '', DB_PASSWORD: PASSWORD },
        error:
          'DATABASE_URL is required: set it, or set DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (missing: DB_HOST, DB_PORT, DB_NAME, DB_USER)\n' +
          '  hint: point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one; then run the command again',
      });
    });

    it('a DATABASE_URL whose password is not percent-encoded', async () => {
      await expectRefused('unencoded password in DATABASE_URL', {
        args: ['migrate'],
        env: { DATABASE_URL: `postgresql://${ROLE}:${PASSWORD}@127.0.0.1:${port}/hostile_target` },
        error:
          'DATABASE_URL is not a valid URL (expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE; special characters in the password must be percent-encoded)\n' +
          '  hint: fix the environment or .env (see .env.example); then run the command again',
      });
    });

    it('a DATABASE_URL of another database system', async () => {
      await expectRefused('mysql:// DATABASE_URL', {
        args: ['migrate'],
        env: { DATABASE_URL: `mysql://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/hostile_target` },
        error:
          'DATABASE_URL must start with postgresql:// or postgres://, got "mysql://" (expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE)\n' +
          '  hint: fix the environment or .env (see .env.example); then run the command again',
      });
    });

    it('DB_PORT=abc', async () => {
      await expectRefused('DB_PORT=abc', {
        args: ['migrate'],
        env: { DB_HOST: '127.0.0.1', DB_PORT: 'abc', DB_NAME: 'hostile_target', DB_USER: ROLE, DB_PASSWORD: PASSWORD },
        error: 'DB_PORT must be a port number from 1 to 65535, got "abc"\n  hint: fix the environment or .env (see .env.example); then run the command again',
      });
    });

    it('nothing listens at the port: gives up after the wait timeout', async () => {
      const closedPort = await freePort();
      await expectRefused('connection refused', {
        args: ['migrate', '--timeout', '1'],
        env: { DATABASE_URL: buildUrl({ host: '127.0.0.1', port: closedPort, database: 'hostile_target', user: ROLE, password: PASSWORD }) },
        error:
          `gave up waiting for the database after 1 s: connection refused at 127.0.0.1:${closedPort}\n` +
          '  hint: is the server up and listening there? Start one with `gulp db:start` (or `docker compose up -d postgres`), or check DB_HOST/DB_PORT',
      });
    });

    it('a host that accepts the connection but never answers: gives up after the wait timeout', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket.on('close', () => sockets.delete(socket))));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const silentPort = (silent.address() as { port: number }).port;
      try {
        await expectRefused('silent host', {
          args: ['migrate', '--timeout', '1'],
          env: { DATABASE_URL: buildUrl({ host: '127.0.0.1', port: silentPort, database: 'hostile_target', user: ROLE, password: PASSWORD }) },
          error:
            `gave up waiting for the database after 1 s: no answer from 127.0.0.1:${silentPort} (connection timed out)\n` +
            '  hint: check that the host is reachable and the port is right, or raise --timeout',
        });
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('a wrong password', async () => {
      await expectRefused('wrong password', {
        args: ['migrate'],
        env: { DATABASE_URL: urlFor('hostile_target', WRONG_PASSWORD) },
        error:
          `password authentication failed for user "${ROLE}" at 127.0.0.1:${port}\n` +
          '  hint: check DB_PASSWORD (or the password in DATABASE_URL), or recreate the local database: `gulp db:stop`, then `gulp db:start`',
      });
    });

    it('a database that does not exist', async () => {
      await expectRefused('no such database', {
        args: ['migrate'],
        env: { DATABASE_URL: urlFor('no_such_db') },
        error: `database "no_such_db" does not exist at 127.0.0.1:${port}\n  hint: create it (createdb no_such_db) or check DB_NAME / the database in DATABASE_URL`,
      });
    });
  });

  describe('flags', () => {
    const flagHint = '  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again';

    it('an unknown --direction', async () => {
      await expectRefused('--direction sideways', {
        args: ['migrate', '--direction', 'sideways'],
        env: { DATABASE_URL: target },
        error: `--direction must be one of: up, down (got "sideways")\n${flagHint}`,
      });
    });

    it('--count -1', async () => {
      await expectRefused('--count -1', {
        args: ['migrate', '--count', '-1'],
        env: { DATABASE_URL: target },
        error: `--count must be a positive whole number or "all", got "-1"\n${flagHint}`,
      });
    });

    it('--count x', async () => {
      await expectRefused('--count x', {
        args: ['migrate', '--count', 'x'],
        env: { DATABASE_URL: target },
        error: `--count must be a positive whole number or "all", got "x"\n${flagHint}`,
      });
    });

    it('a misspelt flag', async () => {
      await expectRefused('--dirction', {
        args: ['migrate', '--dirction', 'up'],
        env: { DATABASE_URL: target },
        error: `unknown flag --dirction (did you mean --direction?)\n${flagHint}`,
      });
    });

    it('an unknown --provider, before anything starts', async () => {
      const run = await expectRefused('--provider nope', {
        args: ['migrate:local', '--provider', 'nope'],
        env: { DB_PASSWORD: PASSWORD },
        error: `--provider must be one of: ${PROVIDER_NAMES.join(', ')} (got "nope")\n${flagHint}`,
      });
      expect(run.output).not.to.include('Database provider');
    });

    it('an unknown DB_PROVIDER, before anything starts', async () => {
      const run = await expectRefused('DB_PROVIDER=mongo', {
        args: ['migrate:local'],
        env: { DB_PROVIDER: 'mongo', DB_PASSWORD: PASSWORD },
        error: `DB_PROVIDER must be one of: ${PROVIDER_NAMES.join(', ')} (got "mongo")\n  hint: fix the environment or .env (see .env.example); then run the command again`,
      });
      expect(run.output).not.to.include('Database provider');
    });
  });

  describe('the migrations folder', () => {
    it('does not exist', async () => {
      await expectRefused('missing folder', {
        args: ['migrate'],
        env: { DATABASE_URL: target, MIGRATIONS_DIR: 'db/migrations' },
        error:
          'migrations folder db/migrations/ does not exist (set MIGRATIONS_DIR or --migrations-dir to the folder that holds them)\n' +
          '  hint: fix the environment or .env (see .env.example); then run the command again',
      });
    });

    it('is empty', async () => {
      const project = newProject();
      mkdirSync(project.migrationsDir);
      project.writeFile('migrations/.gitkeep', '');
      await expectRefused('empty folder', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error:
          'migrations folder migrations/ holds no migrations (files named <timestamp>_<name>.ts, .js or .sql), so there is nothing to migrate\n' +
          '  hint: create one with `gulp migrate:create --name add_first_table`, or point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them',
      });
    });

    it('is a file', async () => {
      const project = projectWithPending();
      project.writeFile('README.md', '# notes\n');
      await expectRefused('folder is a file', {
        args: ['migrate', '--migrations-dir', 'README.md'],
        project,
        env: { DATABASE_URL: target },
        // Refused with the other settings, before anything connects.
        error:
          'migrations folder README.md/ is a file, not a folder (set MIGRATIONS_DIR or --migrations-dir to the folder that holds them)\n' +
          '  hint: fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
      });
    });

    it('is empty, for migrate:local: the server it started is stopped and removed', async () => {
      const project = newProject();
      mkdirSync(project.migrationsDir);
      const run = await expectRefused('empty folder, migrate:local', {
        args: ['migrate:local'],
        project,
        env: { ...EMBEDDED, DB_PASSWORD: PASSWORD },
        error:
          'migrations folder migrations/ holds no migrations (files named <timestamp>_<name>.ts, .js or .sql), so there is nothing to migrate\n' +
          '  hint: create one with `gulp migrate:create --name add_first_table`, or point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds them',
      });
      expect(run.output).to.match(/Stopped the embedded database and removed its files/);
    });
  });

  describe('broken migrations', () => {
    it('one that throws when imported: refused by the lint pre-flight', async () => {
      const project = projectWithPending();
      project.writeFile('migrations/1900000001000_throws_at_import.ts', THROWS_AT_IMPORT);
      await expectRefused('throws at import', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error: [
          'lint found 1 error in migrations/, so nothing was migrated:',
          '  migrations/1900000001000_throws_at_import.ts',
          '    3  error  node-pg-migrate cannot load 1900000001000_throws_at_import.ts: boom at import  load-error',
          '      hint: fix what fails when the module is imported (an import, or top-level code that throws); `gulp migrate` fails on this file until then',
          '  hint: fix them (`gulp lint` lists every finding), or run with --no-lint',
        ].join('\n'),
      });
    });

    it('one that throws when imported, with --no-lint: refused by the runner before any migration runs', async () => {
      const project = projectWithPending();
      project.writeFile('migrations/1900000001000_throws_at_import.ts', THROWS_AT_IMPORT);
      await expectRefused('throws at import, --no-lint', {
        args: ['migrate', '--no-lint'],
        project,
        env: { DATABASE_URL: target },
        error:
          'could not load the migrations in migrations/: Error loading migration files: boom at import\n' +
          '  hint: fix the file named above (a syntax error or a failing import), then run the command again; no migration was run',
      });
    });

    it('one with a syntax error', async () => {
      const project = projectWithPending();
      project.writeFile('migrations/1900000001000_syntax_error.ts', SYNTAX_ERROR);
      const file = path.join(project.migrationsDir, '1900000001000_syntax_error.ts');
      await expectRefused('syntax error', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error: [
          'lint found 4 errors in migrations/, so nothing was migrated:',
          '  migrations/1900000001000_syntax_error.ts',
          `    4:39  error  node-pg-migrate cannot load 1900000001000_syntax_error.ts: ParseError: Unexpected token, expected "," ${file}:4:38  load-error`,
          '      hint: fix the syntax error at line 4:39 first; `gulp migrate` fails on this file until then',
          "    4:39  error  TS1005: ',' expected.  syntax-error",
          '      hint: fix the syntax here; node-pg-migrate cannot load the file until then',
          "    5:2   error  TS1005: ')' expected.  syntax-error",
          '      hint: fix the syntax here; node-pg-migrate cannot load the file until then',
          "    6:1   error  TS1005: '}' expected.  syntax-error",
          '      hint: fix the syntax here; node-pg-migrate cannot load the file until then',
          '  hint: fix them (`gulp lint` lists every finding), or run with --no-lint',
        ].join('\n'),
      });
    });

    it('two with the same timestamp', async () => {
      const project = projectWithPending();
      project.writeFile('migrations/1900000000000_add_tags.ts', PENDING.replaceAll('notes', 'more_tags'));
      await expectRefused('duplicate timestamps', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error: [
          'lint found 2 errors in migrations/, so nothing was migrated:',
          '  migrations/1900000000000_add_notes.ts',
          '    -  error  1900000000000_add_notes.ts has the same timestamp as 1900000000000_add_tags.ts: node-pg-migrate then orders them by name, not by when they were written  duplicate-timestamp',
          '      hint: rename the newer one with a later, unused timestamp (`gulp migrate:create` picks one for a new file)',
          '  migrations/1900000000000_add_tags.ts',
          '    -  error  1900000000000_add_tags.ts has the same timestamp as 1900000000000_add_notes.ts: node-pg-migrate then orders them by name, not by when they were written  duplicate-timestamp',
          '      hint: rename the newer one with a later, unused timestamp (`gulp migrate:create` picks one for a new file)',
          '  hint: fix them (`gulp lint` lists every finding), or run with --no-lint',
        ].join('\n'),
      });
    });

    // node-pg-migrate writes a file name unescaped into its ledger INSERT: such a name must never reach it.
    const INJECTING = "1900000002000_comment', now()); DELETE FROM pgmigrations; --";
    const HARMLESS_SQL = "-- Up Migration\nCOMMENT ON TABLE pgmigrations IS 'ledger';\n\n-- Down Migration\nCOMMENT ON TABLE pgmigrations IS NULL;\n";

    it('a file name that is SQL: refused by the lint pre-flight (`gulp lint` too), and by migrate with --no-lint', async () => {
      const project = projectWithPending();
      project.writeFile(`migrations/${INJECTING}.sql`, HARMLESS_SQL);
      await expectRefused('file name as SQL', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error:
          `migrations/${INJECTING}.sql: its name has an apostrophe, which node-pg-migrate writes unescaped into its ledger row (INSERT … VALUES ('<name>', NOW())): running it would fail halfway or run part of the name as SQL; nothing was run\n` +
          '  hint: rename the file without apostrophes, backslashes or control characters (before it is applied anywhere), then run again',
      });
      await expectRefused('file name as SQL, --no-lint', {
        args: ['migrate', '--no-lint'],
        project,
        env: { DATABASE_URL: target },
        error:
          `migrations/${INJECTING}.sql: its name has an apostrophe, which node-pg-migrate writes unescaped into its ledger row (INSERT … VALUES ('<name>', NOW())): running it would fail halfway or run part of the name as SQL; nothing was run\n` +
          '  hint: rename the file without apostrophes, backslashes or control characters (before it is applied anywhere), then run again',
      });
      const lint = await gulp('file name as SQL, lint', ['lint'], project);
      expect(lint.code, lint.output).to.equal(1);
      expect(lint.output).to.include('name-pattern');
    });

    it("an apostrophe in a name (`…_fix_user's_email.ts`) and two files of one name: refused with --no-lint, nothing run", async () => {
      const project = projectWithPending();
      project.writeFile("migrations/1900000002000_fix_user's_email.ts", PENDING.replaceAll('notes', 'emails'));
      await expectRefused('apostrophe, --no-lint', {
        args: ['migrate', '--no-lint'],
        project,
        env: { DATABASE_URL: target },
        error:
          "migrations/1900000002000_fix_user's_email.ts: its name has an apostrophe, which node-pg-migrate writes unescaped into its ledger row (INSERT … VALUES ('<name>', NOW())): running it would fail halfway or run part of the name as SQL; nothing was run\n" +
          '  hint: rename the file without apostrophes, backslashes or control characters (before it is applied anywhere), then run again',
      });
      const twice = projectWithPending();
      twice.writeFile('migrations/1900000000000_add_notes.sql', '-- Up Migration\nCREATE TABLE notes_sql (id int);\n');
      await expectRefused('one name, two files, --no-lint', {
        args: ['migrate', '--no-lint'],
        project: twice,
        env: { DATABASE_URL: target },
        error:
          'migrations/ has 1900000000000_add_notes.sql and 1900000000000_add_notes.ts: one migration name, two files, and node-pg-migrate would run both under the same ledger name; nothing was run\n' +
          '  hint: keep one of them (or give the other a new timestamp with `gulp migrate:create`), then run again',
      });
    });

    it('a symbolic link that loops: an error of `gulp lint`, refused by migrate with --no-lint', async () => {
      const project = projectWithPending();
      symlinkSync('1900000003000_loop.sql', path.join(project.migrationsDir, '1900000003000_loop.sql'));
      // Before: `gulp lint` passed (the entry was left out), and migrate said "fix the file named above (a syntax error …)".
      const lint = await gulp('symlink loop, lint', ['lint'], project);
      expect(lint.code, lint.output).to.equal(1);
      expect(lint.output).to.include('error  1900000003000_loop.sql is a symbolic link that loops (ELOOP): nothing can be read from it  load-error');
      await expectRefused('symlink loop, --no-lint', {
        args: ['migrate', '--no-lint'],
        project,
        env: { DATABASE_URL: target },
        error:
          'migrations/1900000003000_loop.sql is a symbolic link that loops (ELOOP): nothing can be read from it; nothing was run\n' +
          '  hint: fix or remove migrations/1900000003000_loop.sql, then run again',
      });
      // A link to a file that does not exist: test/unit/migration-folder.test.ts.
    });

    it('MIGRATIONS_TABLE with a quote: refused before connecting, naming the variable', async () => {
      await expectRefused("MIGRATIONS_TABLE a'b", {
        args: ['migrate'],
        env: { DATABASE_URL: target, MIGRATIONS_TABLE: "a'b" },
        error:
          'MIGRATIONS_TABLE "a\'b" has a quote, a backslash or a control character, which node-pg-migrate cannot put in its SQL: use letters, digits and _\n' +
          '  hint: fix the environment or .env (see .env.example); then run the command again',
      });
    });

    it('one that throws when imported, for migrate:local: refused before any server is started', async () => {
      const project = projectWithPending();
      project.writeFile('migrations/1900000001000_throws_at_import.ts', THROWS_AT_IMPORT);
      const run = await expectRefused('throws at import, migrate:local', {
        args: ['migrate:local'],
        project,
        env: { ...EMBEDDED, DB_PASSWORD: PASSWORD },
        error: [
          'lint found 1 error in migrations/, so nothing was migrated:',
          '  migrations/1900000001000_throws_at_import.ts',
          '    3  error  node-pg-migrate cannot load 1900000001000_throws_at_import.ts: boom at import  load-error',
          '      hint: fix what fails when the module is imported (an import, or top-level code that throws); `gulp migrate` fails on this file until then',
          '  hint: fix them (`gulp lint` lists every finding), or run with --no-lint',
        ].join('\n'),
      });
      expect(run.output).not.to.include('Database provider');
      expect(run.output).not.to.include('Started PostgreSQL');
    });
  });

  describe('the .env file', () => {
    const envHint =
      '  hint: fix .env: one NAME=value per line (comments start with #; quote a value that contains # or spaces, see .env.example); then run the command again';

    it('with lines dotenv would skip without a word', async () => {
      const project = projectWithPending();
      project.writeFile('.env', ['this is not a setting', `DATABASE_URL=${target}`, '===', `DB_PASSWORD ${PASSWORD}`, '# a comment', ''].join('\n'));
      await expectRefused('.env garbage lines', {
        args: ['migrate'],
        project,
        error: `.env: lines 1, 3, 4 are not NAME=value, a comment or blank, and would be ignored (the line is not shown: it may hold a secret)\n${envHint}`,
      });
    });

    it('with an unquoted password containing #, which dotenv would cut short', async () => {
      const project = projectWithPending();
      project.writeFile(
        '.env',
        ['DB_HOST=127.0.0.1', `DB_PORT=${port}`, 'DB_NAME=hostile_target', `DB_USER=${ROLE}`, `DB_PASSWORD=${PASSWORD}`, ''].join('\n'),
      );
      await expectRefused('.env # in an unquoted value', {
        args: ['migrate'],
        project,
        error:
          '.env line 5: the value of DB_PASSWORD contains "#", which starts a comment when the value is not quoted, so DB_PASSWORD would be read cut short there: ' +
          `put the value in quotes (DB_PASSWORD="…")\n${envHint}`,
      });
    });

    it('that is a folder', async () => {
      const project = projectWithPending();
      mkdirSync(path.join(project.dir, '.env'));
      await expectRefused('.env is a folder', {
        args: ['migrate'],
        project,
        env: { DATABASE_URL: target },
        error:
          'cannot read .env: EISDIR: illegal operation on a directory, read\n' +
          '  hint: .env must be a readable file of NAME=value lines (see .env.example): fix or remove it, or pass --dotenv FILE; then run the command again',
      });
    });
  });

  describe('migrate:create', () => {
    it('a name with shell metacharacters: no file, and nothing runs', async () => {
      const project = projectWithPending();
      await expectRefused('migrate:create metacharacters', {
        args: ['migrate:create', '--name', 'x; touch pwned $(touch pwned2) `touch pwned3` | cat > out && echo'],
        project,
        error:
          'the migration name "x; touch pwned $(touch pwned2) `touch pwned3` | cat > out && echo" is not safe in a file name or a shell command: ' +
          'it contains whitespace and the characters ; $ ( ) ` | > &\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name x_touch_pwned_touch_pwned2_touch_pwned3_cat_out_echo',
      });
    });

    it('a name that climbs out of the migrations folder', async () => {
      const project = projectWithPending();
      await expectRefused('migrate:create path traversal', {
        args: ['migrate:create', '--name', '../../outside'],
        project,
        error:
          'the migration name "../../outside" is not safe in a file name or a shell command: it contains a path separator "/" and ".." (a path outside the folder)\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name outside',
      });
    });
  });

  describe('the password with @:/?#% characters works', () => {
    // -LLLL (gulp's most verbose log level) also prints the debug lines, which name the connection: all in the secret check.
    it('gulp migrate with it percent-encoded in DATABASE_URL', async () => {
      const url = await createDatabase('hostile_positive');
      const project = newProject();
      project.addMigrations('starter');
      const run = await gulp('positive: DATABASE_URL', ['migrate', '-LLLL'], project, { DATABASE_URL: url });
      expect(run.output).to.include(`Connection from DATABASE_URL: postgresql://${ROLE}:****@127.0.0.1:${port}/hostile_positive`);
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include(`Database ready: ${ROLE}@127.0.0.1:${port}/hostile_positive`);
      expect(run.output).to.match(/Applied 5 migrations in \d+ ms/);
      expect((await snapshot(url)).ledger).to.deep.equal(STARTER_MIGRATIONS);
    });

    it('gulp migrate with it quoted in .env', async () => {
      const url = await createDatabase('hostile_positive_env');
      const project = newProject();
      project.addMigrations('starter');
      project.writeFile(
        '.env',
        ['DB_HOST=127.0.0.1', `DB_PORT=${port}`, 'DB_NAME=hostile_positive_env', `DB_USER=${ROLE}`, `DB_PASSWORD="${PASSWORD}"`, ''].join('\n'),
      );
      const run = await gulp('positive: .env', ['migrate'], project);
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.match(/Applied 5 migrations in \d+ ms/);
      expect((await snapshot(url)).ledger).to.deep.equal(STARTER_MIGRATIONS);
    });

    it('gulp migrate:local with it as DB_PASSWORD, leaving nothing running', async () => {
      const project = newProject();
      project.addMigrations('starter');
      const run = await gulp('positive: migrate:local', ['migrate:local', '-LLLL'], project, { ...EMBEDDED, DB_PASSWORD: PASSWORD });
      expect(run.output).to.match(/Application URL: postgresql:\/\/contentuser:\*\*\*\*@127\.0\.0\.1:\d+\/contenthub/);
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.match(/Database ready: contentuser@127\.0\.0\.1:\d+\/contenthub/);
      expect(run.output).to.match(/Applied 5 migrations in \d+ ms/);
      expect(run.output).to.match(/Stopped the embedded database and removed its files/);
      expect(leftovers(tmpRoot)).to.deep.equal({ tempDirs: [], servers: [] });
    });
  });

  // In a describe of its own: mocha runs a describe's own tests before its nested describes, and this one must run last.
  describe('what the cases printed', () => {
    it('never shows the password, raw or percent-encoded (nor the wrong one), in any output of the cases above', () => {
      expect(outputs.length, 'the cases above did not run').to.be.greaterThan(25);
      for (const { name, output } of outputs) {
        for (const secret of FORBIDDEN) expect(output.includes(secret), `case "${name}" printed ${secret}:\n${output}`).to.equal(false);
      }
    });
  });
});

/**
 * The error gulp-cli prints for the first failed task: the lines after "'task' errored after …" up to the next
 * timestamped line, without the timestamp.
 */
function errorBlock(output: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => /^\[\d\d:\d\d:\d\d\] '[^']+' errored after /.test(line));
  if (start === -1) return `(no "errored after" line)`;
  const block = [lines[start + 1]!.replace(/^\[\d\d:\d\d:\d\d\] /, '')];
  for (const line of lines.slice(start + 2)) {
    if (/^\[\d\d:\d\d:\d\d\] /.test(line)) break;
    block.push(line);
  }
  return block.join('\n').trimEnd();
}

/** Relative path, size and modification time of everything in a folder, to show that a run wrote nothing there. */
function listTree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return [`${relative}/`, ...listTree(full, relative)];
    const info = lstatSync(full);
    return [`${relative} ${info.size} ${info.mtimeMs}`];
  });
}

/** Embedded servers' temp dirs left in `tmpRoot`, and postgres processes whose command line names it. */
function leftovers(tmpRoot: string): { tempDirs: string[]; servers: number[] } {
  return { tempDirs: readdirSync(tmpRoot).filter((name) => name.startsWith('pgmt-')), servers: serverProcessesFor(tmpRoot) };
}
