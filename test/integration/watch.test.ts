import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, REPO_ROOT, type TestProject } from '../support/project';
import { startWatch, type WatchRun } from '../support/watch';
import { renderMigrationTemplate } from '../../tasks/sources/migration-templates';

/** A TS migration creating `table` with the given extra column definitions (node-pg-migrate builder syntax). */
function createTable(table: string, columns = ''): string {
  return [
    "import type { MigrationBuilder } from 'node-pg-migrate';",
    '',
    'export const up = (pgm: MigrationBuilder): void => {',
    `  pgm.createTable('${table}', { id: { type: 'integer', primaryKey: true }${columns ? `, ${columns}` : ''} });`,
    '};',
    '',
    'export const down = (pgm: MigrationBuilder): void => {',
    `  pgm.dropTable('${table}');`,
    '};',
    '',
  ].join('\n');
}

/** The same migration cut off in the middle of its `up`, as an editor's first write of a large save may leave it. */
const HALF_WRITTEN =
  "import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  pgm.createTable('halves', { id: { type: 'int";
const SYNTAX_ERROR = createTable('broken').replace("  pgm.dropTable('broken');\n};", "  pgm.dropTable('broken');\n");

describe('gulp watch on a real folder (gulp.watch, the linter)', function () {
  let project: TestProject;
  let run: WatchRun;
  const file = (name: string) => path.join(project.migrationsDir, name);

  before(async () => {
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    writeFileSync(file('1732600000000_create_authors.ts'), createTable('authors'));
    run = startWatch({ cwd: project.dir });
    await run.waitFor(/^info: Watching/);
  });
  after(async () => {
    await run?.stop();
    project?.remove();
  });

  it('says what it watches and that Ctrl-C stops it', () => {
    expect(run.lines()).to.deep.equal(['info: Watching migrations/ for new and changed migrations: each is linted when saved. Ctrl-C stops.']);
  });

  it('lints a new clean file: one line', async () => {
    writeFileSync(file('1732600001000_create_books.ts'), createTable('books'));
    const line = await run.waitFor(/books/);
    expect(line).to.match(/^info: ✓ 1732600001000_create_books\.ts: no problems \(\d+ ms\)$/);
  });

  it('reports a file that does not compile with the compiler diagnostic, and the all-clear once it is fixed', async () => {
    let seen = run.lines().length;
    writeFileSync(file('1732600002000_create_broken.ts'), SYNTAX_ERROR);
    const report = await run.waitFor(/broken/, seen);
    expect(report.split('\n')[0]).to.match(/^error: ✗ 1732600002000_create_broken\.ts: 2 errors \(\d+ ms\)$/);
    expect(report).to.include("\n  10:1  error  TS1005: '}' expected.  syntax-error\n");
    expect(report).to.match(/\n {2}10:1 {2}error {2}node-pg-migrate cannot load 1732600002000_create_broken\.ts: .* {2}load-error\n/);

    seen = run.lines().length;
    writeFileSync(file('1732600002000_create_broken.ts'), createTable('broken'));
    expect(await run.waitFor(/broken/, seen)).to.match(/^info: ✓ 1732600002000_create_broken\.ts: no problems \(\d+ ms\)$/);
  });

  it('reports a half-written file and keeps watching: completing it clears it', async () => {
    let seen = run.lines().length;
    writeFileSync(file('1732600003000_create_halves.ts'), HALF_WRITTEN);
    expect(await run.waitFor(/halves/, seen)).to.match(/^error: ✗ 1732600003000_create_halves\.ts: \d+ errors? \(\d+ ms\)\n/);
    seen = run.lines().length;
    appendFileSync(file('1732600003000_create_halves.ts'), createTable('halves').slice(HALF_WRITTEN.length));
    expect(await run.waitFor(/halves/, seen)).to.match(/^info: ✓ 1732600003000_create_halves\.ts: no problems/);
  });

  it('two hundred rapid saves on a busy machine (truncate and write, atomic rename): the last verdict always matches the final text', async function () {
    this.timeout(90_000);
    // The other core busy, as with a build or a second editor running (at the lowest priority: in the suite, the
    // other tests' processes go first).
    const burner = spawn('nice', ['-n', '19', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      const clean = createTable('rapid');
      const broken = SYNTAX_ERROR.replaceAll('broken', 'rapid');
      for (const [name, last, atomic] of [
        ['1732600009000_create_rapid.ts', clean, false],
        ['1732600009500_create_rapid.ts', broken, true],
      ] as const) {
        const target = file(name);
        const save = (text: string) => {
          if (!atomic) return writeFileSync(target, text);
          // As editors and git do: write a dotfile (ignored), then rename it over the migration.
          writeFileSync(file(`.${name}.tmp`), text);
          renameSync(file(`.${name}.tmp`), target);
        };
        for (let i = 0; i < 100; i += 1) {
          save(i % 2 === 0 ? broken : clean);
          await sleep(i % 7 === 0 ? 12 : i % 3);
        }
        save(last);
        // Quiet: no new verdict on the file for a second (the watcher re-reads it 150 ms after each verdict).
        let count = -1;
        for (let waited = 0; waited < 60_000; waited += 1_000) {
          const now = run.lines().filter((line) => line.includes(name)).length;
          if (now === count) break;
          count = now;
          await sleep(1_000);
        }
        const verdict = run
          .lines()
          .filter((line) => line.includes(name))
          .at(-1);
        expect(verdict, `${name}: ${atomic ? 'atomic renames' : 'writes in place'}`).to.match(
          last === clean ? /^info: ✓ .*: no problems/ : /^error: ✗ .*: 2 errors/,
        );
      }
    } finally {
      burner.kill('SIGKILL');
    }
  });

  it('reports a new file older than the newest one (out of order)', async () => {
    const seen = run.lines().length;
    writeFileSync(file('1732500000000_create_early.ts'), createTable('early'));
    const report = await run.waitFor(/early/, seen);
    const [headline, finding] = report.split('\n');
    expect(headline).to.match(/^error: ✗ 1732500000000_create_early\.ts: 1 error \(\d+ ms\)$/);
    // Only the files there when the watch started count as existing: those created since are new too.
    expect(finding).to.equal(
      '  -  error  1732500000000_create_early.ts is new but older than 1732600000000_create_authors.ts, the newest existing migration: on a database where that one is applied, node-pg-migrate refuses to run ("Not run migration 1732500000000_create_early is preceding already run migration 1732600000000_create_authors")  out-of-order',
    );
  });
});

describe('gulp watch --apply against a real server', function () {
  let server: TestServer;
  let project: TestProject;
  let url: string;
  let run: WatchRun;
  const file = (name: string) => path.join(project.migrationsDir, name);
  const ledger = async () => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  const columns = async (table: string) =>
    (
      await query<{ name: string }>(url, `SELECT column_name AS name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`)
    ).map((row) => row.name);
  /** Saves a migration and returns what the watcher printed for it, up to the line matching `until`. */
  async function save(name: string, content: string, until: RegExp): Promise<string[]> {
    const seen = run.lines().length;
    writeFileSync(file(name), content);
    await run.waitFor(until, seen);
    return run
      .lines()
      .slice(seen)
      .map((line) => line.replace(/\d+ ms/g, 'N ms'));
  }

  before(async () => {
    server = await startTestServer();
    url = await server.freshDatabase('watch_apply');
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    writeFileSync(file('1732600000000_create_authors.ts'), createTable('authors'));
    run = startWatch({
      cwd: project.dir,
      argv: ['--apply'],
      // The database the kept one would be; startDb is skipped when the context has one.
      prepare: (ctx) => (ctx.handoff.database = { provider: 'external', url, description: 'the test database', stop: async () => undefined }),
    });
    await run.waitFor(/^\w+: (Applied|✗)/);
  });
  after(async () => {
    await run?.stop();
    await server?.stop();
    project?.remove();
  });

  it('applies the pending migrations when it starts', async () => {
    expect(run.lines().map((line) => line.replace(/\d+ ms/g, 'N ms'))).to.deep.equal([
      'info: DB_PASSWORD is not set: generated a random one for the database this run starts',
      'info: Database ready: contentuser@127.0.0.1:' + new URL(url).port + '/watch_apply (N ms)',
      'info: Watching migrations/ for new and changed migrations: each is linted when saved, and applied to the database when it passes (a change to the newest applied one re-runs it). Ctrl-C stops.',
      'info: Database: 0 migrations applied, 1 pending in migrations/: applying those that pass lint',
      'info:   ↑ 1732600000000_create_authors (N ms)',
      'info: Applied 1 migration in N ms',
    ]);
    expect(await ledger()).to.deep.equal(['1732600000000_create_authors']);
  });

  it('applies a new migration that passes lint', async () => {
    const lines = await save('1732600001000_create_widgets.ts', createTable('widgets'), /Applied|✗/);
    expect(lines).to.deep.equal([
      'info: ✓ 1732600001000_create_widgets.ts: no problems (N ms)',
      'info:   ↑ 1732600001000_create_widgets (N ms)',
      'info: Applied 1 migration in N ms',
    ]);
    expect(await ledger()).to.deep.equal(['1732600000000_create_authors', '1732600001000_create_widgets']);
    expect(await columns('widgets')).to.deep.equal(['id']);
  });

  it('re-runs the newest applied migration when it is edited (down, then up)', async () => {
    const lines = await save('1732600001000_create_widgets.ts', createTable('widgets', "colour: { type: 'text' }"), /Re-ran|✗/);
    expect(lines).to.deep.equal([
      'info: ✓ 1732600001000_create_widgets.ts: no problems (N ms)',
      'info:   ↓ 1732600001000_create_widgets (N ms)',
      'info:   ↑ 1732600001000_create_widgets (N ms)',
      'info: Re-ran 1732600001000_create_widgets (down, then up) in N ms',
    ]);
    expect(await columns('widgets')).to.deep.equal(['id', 'colour']);
  });

  it('does not re-run it when it is saved unchanged', async () => {
    const lines = await save('1732600001000_create_widgets.ts', createTable('widgets', "colour: { type: 'text' }"), /nothing to re-run|Re-ran|✗/);
    expect(lines.at(-1)).to.equal('info: 1732600001000_create_widgets.ts is applied and unchanged since: nothing to re-run');
  });

  it('does not re-run an older applied migration, and says how to', async () => {
    const lines = await save('1732600000000_create_authors.ts', createTable('authors', "name: { type: 'text' }"), /not re-run|Re-ran|✗/);
    expect(lines.at(-1)).to.equal(
      'info: 1732600000000_create_authors.ts is applied and not the newest applied migration: not re-run (the database keeps the version it applied; `gulp migrate --direction down --count 2` rolls back to before it)',
    );
    expect(await columns('authors')).to.deep.equal(['id']);
  });

  it('prints a failing apply and keeps watching; the fixed file is applied', async () => {
    const failing = createTable('gadgets').replace('} });\n};', "} });\n  pgm.sql('INSERT INTO no_such_table VALUES (1)');\n};");
    const lines = await save('1732600002000_create_gadgets.ts', failing, /^error:/);
    expect(lines.at(-1)).to.match(
      /^error: ✗ migration 1732600002000_create_gadgets failed \(up\): relation "no_such_table" does not exist\n[\s\S]*\n {2}hint: fix 1732600002000_create_gadgets in migrations\/, then save the file again\n {2}\(still watching\)$/,
    );
    expect(await ledger()).to.have.length(2);

    const fixed = await save('1732600002000_create_gadgets.ts', createTable('gadgets'), /Applied|✗/);
    expect(fixed.slice(-2)).to.deep.equal(['info:   ↑ 1732600002000_create_gadgets (N ms)', 'info: Applied 1 migration in N ms']);
    expect(await tableNames(url)).to.include('gadgets');
  });

  it('does not apply a migration with a lint error', async () => {
    const seen = run.lines().length;
    writeFileSync(file('1732600003000_create_broken.ts'), SYNTAX_ERROR);
    await run.waitFor(/broken/, seen);
    // The watcher handles one file at a time: once the next save is handled, the broken one is done with.
    await save('1732600001000_create_widgets.ts', createTable('widgets', "colour: { type: 'text' }"), /widgets\.ts is applied/);
    const lines = run.lines().slice(seen);
    expect(lines[0]).to.match(/^error: ✗ 1732600003000_create_broken\.ts: 2 errors \(\d+ ms\)\n/);
    expect(lines.slice(1).map((line) => line.replace(/\d+ ms/g, 'N ms'))).to.deep.equal([
      'warn: Not applied: 1732600003000_create_broken.ts has lint errors (above): fix it and save it',
      'info: ✓ 1732600001000_create_widgets.ts: no problems (N ms)',
      'info: 1732600001000_create_widgets.ts is applied and not the newest applied migration: not re-run (the database keeps the version it applied; `gulp migrate --direction down --count 2` rolls back to before it)',
    ]);
    expect(await ledger()).to.deep.equal(['1732600000000_create_authors', '1732600001000_create_widgets', '1732600002000_create_gadgets']);
  });

  it('holds back an untouched migrate:create template, and applies it once its up does something', async () => {
    await save('1732600003000_create_broken.ts', createTable('broken'), /Applied|✗/);
    const held = await save('1732600004000_create_sprockets.ts', renderMigrationTemplate('ts', 'create_sprockets'), /Not applied yet|Applied|✗/);
    expect(held.at(-1)).to.equal(
      'info: Not applied yet: 1732600004000_create_sprockets renders no SQL (an untouched template?); it is applied once its up does something',
    );
    expect(await ledger()).to.have.length(4);
    const applied = await save('1732600004000_create_sprockets.ts', createTable('sprockets'), /Applied|✗/);
    // A write in place may reach the watcher as two events: its verdict can then follow once more.
    expect(applied).to.include('info: Applied 1 migration in N ms');
    expect(await columns('sprockets')).to.deep.equal(['id']);
  });
});

describe('gulp watch --apply with pending migrations that have lint errors', function () {
  let server: TestServer;
  let project: TestProject;
  let url: string;
  let run: WatchRun;
  const file = (name: string) => path.join(project.migrationsDir, name);
  const ledger = async () => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);
  const shown = (from = 0) =>
    run
      .lines()
      .slice(from)
      .map((line) => line.replace(/\d+ ms/g, 'N ms'));
  /**
   * An index on authors (created by an earlier migration), built concurrently: inside the run's transaction, which
   * PostgreSQL refuses (so it cannot run, and is not applied), or outside it (pgm.noTransaction()). A lock-safety finding
   * alone (CREATE INDEX without CONCURRENTLY) would not hold it back: the database is local.
   */
  const indexAuthors = (outsideTransaction: boolean) =>
    [
      "import type { MigrationBuilder } from 'node-pg-migrate';",
      '',
      'export const up = (pgm: MigrationBuilder): void => {',
      ...(outsideTransaction
        ? ['  pgm.noTransaction();', "  pgm.createIndex('authors', 'id', { name: 'authors_id_index', concurrently: true });"]
        : ["  pgm.createIndex('authors', 'id', { name: 'authors_id_index', concurrently: true });"]),
      '};',
      '',
      'export const down = (pgm: MigrationBuilder): void => {',
      "  pgm.dropIndex('authors', 'id', { name: 'authors_id_index' });",
      '};',
      '',
    ].join('\n');

  before(async () => {
    server = await startTestServer();
    url = await server.freshDatabase('watch_blocked');
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    writeFileSync(file('1732600000000_create_authors.ts'), createTable('authors'));
    writeFileSync(file('1732600001000_index_authors.ts'), indexAuthors(false));
    writeFileSync(file('1732600002000_create_books.ts'), createTable('books'));
    run = startWatch({
      cwd: project.dir,
      argv: ['--apply'],
      env: { DB_PASSWORD: 'not-used' },
      prepare: (ctx) => (ctx.handoff.database = { provider: 'external', url, description: 'the test database', stop: async () => undefined }),
    });
    await run.waitFor(/Not applied|✗ [^1]/);
  });
  after(async () => {
    await run?.stop();
    await server?.stop();
    project?.remove();
  });

  it('at the start, applies the pending migrations before the first with a lint error, and prints why it stopped', async () => {
    const lines = shown();
    expect(lines.slice(2, 5)).to.deep.equal([
      'info: Database: 0 migrations applied, 3 pending in migrations/: applying those that pass lint',
      'info:   ↑ 1732600000000_create_authors (N ms)',
      'info: Applied 1 migration in N ms',
    ]);
    expect(lines[5]).to.match(
      /^error: ✗ 1732600001000_index_authors\.ts: 1 error \(N ms\)\n {2}4:3 {2}error {2}.*CONCURRENTLY.* {2}concurrently-in-transaction\n/,
    );
    expect(lines.slice(6)).to.deep.equal([
      'warn: Not applied: 1732600001000_index_authors has lint errors, and the 1 pending migration after it waits for it: fix it and save it to apply it',
    ]);
    expect(await ledger()).to.deep.equal(['1732600000000_create_authors']);
  });

  it('applies nothing while a file node-pg-migrate cannot load is in the folder (its runner loads them all)', async () => {
    let seen = run.lines().length;
    writeFileSync(file('1732600003000_create_broken.ts'), SYNTAX_ERROR);
    await run.waitFor(/broken/, seen);
    seen = run.lines().length;
    writeFileSync(file('1732600001000_index_authors.ts'), indexAuthors(true));
    await run.waitFor(/Not applied|Applied|✗ [^1]/, seen);
    const lines = shown(seen);
    expect(lines[0]).to.equal('info: ✓ 1732600001000_index_authors.ts: no problems (N ms)');
    expect(lines[1]).to.match(/^error: ✗ 1732600003000_create_broken\.ts: 2 errors \(N ms\)\n/);
    expect(lines.slice(2)).to.deep.equal([
      'warn: Not applied: node-pg-migrate loads every migration in migrations/ before it runs one, and 1732600003000_create_broken.ts cannot be loaded (above): fix it and save it',
    ]);
    expect(await ledger()).to.deep.equal(['1732600000000_create_authors']);
  });

  it('once the last problem is fixed, applies every pending migration, in order', async () => {
    const seen = run.lines().length;
    writeFileSync(file('1732600003000_create_broken.ts'), createTable('broken'));
    await run.waitFor(/Applied|Not applied|✗/, seen);
    const lines = shown(seen);
    expect(lines).to.deep.equal([
      'info: ✓ 1732600003000_create_broken.ts: no problems (N ms)',
      'warn: 1732600001000_index_authors runs outside the transaction (pgm.noTransaction()): a failure after it cannot undo it',
      'info:   ↑ 1732600001000_index_authors (N ms)',
      'info:   ↑ 1732600002000_create_books (N ms)',
      'info:   ↑ 1732600003000_create_broken (N ms)',
      'info: Applied 3 migrations in N ms',
    ]);
    expect(await ledger()).to.deep.equal([
      '1732600000000_create_authors',
      '1732600001000_index_authors',
      '1732600002000_create_books',
      '1732600003000_create_broken',
    ]);
    expect(await query(url, "SELECT indexname FROM pg_indexes WHERE indexname = 'authors_id_index'")).to.deep.equal([{ indexname: 'authors_id_index' }]);
  });
});

describe('gulp watch and Ctrl-C (a process of its own)', function () {
  let project: TestProject;
  before(() => {
    project = createTestProject();
    mkdirSync(project.migrationsDir);
  });
  after(() => project?.remove());

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} closes the watcher and ends the process by the signal, without a stack trace`, async () => {
      const child = spawn(
        process.execPath,
        ['-r', path.join(REPO_ROOT, 'loader', 'register-ts.cjs'), path.join(REPO_ROOT, 'test', 'support', 'watch-main.ts'), project.dir],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      // Two pipes: what arrives first from each is in order, but not across them (info goes to stdout, warnings to stderr).
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('close', (code, endSignal) => resolve({ code, signal: endSignal })),
      );
      try {
        for (let waited = 0; !stdout.includes('Ctrl-C stops.'); waited += 20) {
          if (waited > 30_000 || child.exitCode !== null) throw new Error(`the watcher did not start:\n${stdout}${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        child.kill(signal);
        const result = await ended;
        expect(result).to.deep.equal({ code: null, signal });
        expect(stdout.trim().split('\n')).to.deep.equal([
          'Watching migrations/ for new and changed migrations: each is linted when saved. Ctrl-C stops.',
          'Stopped watching migrations/',
        ]);
        expect(stderr.trim().split('\n')).to.deep.equal([`Received ${signal}: stopping what this run started`]);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  }
});
