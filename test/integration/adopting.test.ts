import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, runGulp, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };

const ts = (up: string, down: string) =>
  `import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  ${up}\n};\n\nexport const down = (pgm: MigrationBuilder): void => {\n  ${down}\n};\n`;

/** A history that shipped years ago: it breaks two production-safety rules on a table an earlier migration created. */
const HISTORY: Record<string, string> = {
  '1600000000000_create_accounts.ts': ts("pgm.createTable('accounts', { id: 'id', email: 'text' });", "pgm.dropTable('accounts');"),
  '1600000001000_index_accounts_email.ts': ts("pgm.createIndex('accounts', 'email');", "pgm.dropIndex('accounts', 'email');"),
  '1600000002000_add_accounts_status.ts': ts(
    "pgm.addColumn('accounts', { status: { type: 'text', notNull: true } });",
    "pgm.dropColumn('accounts', 'status');",
  ),
};
/** The branch's new migration: the same mistake again, now on a new migration. */
const NEW = { '1700000000000_index_accounts_status.ts': ts("pgm.createIndex('accounts', 'status');", "pgm.dropIndex('accounts', 'status');") };

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
}

/** A project whose history is committed on main, with the new migration on a branch of its own. */
function projectWithHistory(files: Record<string, string> = HISTORY, added: Record<string, string> = NEW): TestProject {
  const project = createTestProject();
  mkdirSync(project.migrationsDir);
  git(project.dir, 'init', '-q');
  const write = (name: string, text: string) => {
    mkdirSync(path.dirname(path.join(project.migrationsDir, name)), { recursive: true });
    project.writeFile(`migrations/${name}`, text);
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  git(project.dir, 'add', '-A');
  git(project.dir, 'commit', '-q', '-m', 'history');
  git(project.dir, 'checkout', '-q', '-b', 'feature');
  for (const [name, text] of Object.entries(added)) write(name, text);
  git(project.dir, 'add', '-A');
  git(project.dir, 'commit', '-q', '-m', 'new migration');
  return project;
}

describe('adopting an existing project: history never blocks', function () {
  let project: TestProject;
  before(() => (project = projectWithHistory()));
  after(() => project.remove());

  it('gulp lint flags only the new migration and sums up history in one line; --all lists all', async () => {
    const lint = await runGulp(['lint'], { cwd: project.dir });
    expect(lint.code, lint.output).to.equal(1);
    expect(lint.output).to.include('migrations/1700000000000_index_accounts_status.ts');
    expect(lint.output).to.include('create-index-not-concurrently');
    expect(lint.output).not.to.include('1600000001000_index_accounts_email.ts');
    expect(lint.output).to.include('2 findings in migrations already on main: `gulp lint --all` lists them');
    expect(lint.output).to.include('lint found 1 error in 1 file');

    const all = await runGulp(['lint', '--all'], { cwd: project.dir });
    expect(all.code).to.equal(1);
    expect(all.output).to.include('migrations/1600000001000_index_accounts_email.ts');
    expect(all.output).to.include('add-column-not-null-without-default');
    expect(all.output).to.include('lint found 3 errors in 3 files');

    // With the new migration's commit as the base, nothing is new: nothing counts.
    const based = await runGulp(['lint', '--base', 'HEAD'], { cwd: project.dir });
    expect(based.code, based.output).to.equal(0);
    expect(based.output).to.include('3 findings in migrations already on HEAD');
  });

  it('migrate:local migrates the whole history, the new migration’s lock-safety finding a warning (nobody else is connected)', async () => {
    const run = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.include('Applied 4 migrations');
    expect(run.output).to.match(
      /Lint: 1 warning in 1 file \(not blocking; 1 of them is an error on a database others use, not on this local one; `gulp lint` shows them\)/,
    );
  });

  it('migrate against a database others use refuses the new migration, not the history it would apply too', async () => {
    const server: TestServer = await startTestServer();
    try {
      const url = await server.freshDatabase('adopt_shared');
      const run = await runGulp(['migrate'], { cwd: project.dir, env: { DATABASE_URL: url } });
      expect(run.code).to.equal(1);
      expect(run.output).to.include('lint found 1 error in migrations/, so nothing was migrated:');
      expect(run.output).to.include('1700000000000_index_accounts_status.ts');
      expect(run.output).not.to.include('1600000001000_index_accounts_email.ts');
      expect(await query(url, "SELECT to_regclass('pgmigrations') AS ledger")).to.deep.equal([{ ledger: null }]);
    } finally {
      await server.stop();
    }
  });

  it('gulp lint --update-baseline accepts today’s findings; afterwards only new findings count', async () => {
    const other = projectWithHistory();
    try {
      const update = await runGulp(['lint', '--update-baseline', '--all'], { cwd: other.dir });
      expect(update.output).to.include('Wrote .pgmt-lint-baseline.json: 3 findings in 3 migrations accepted as they are (commit it)');
      const baseline = JSON.parse(readFileSync(path.join(other.dir, '.pgmt-lint-baseline.json'), 'utf8')) as {
        accepted: { migration: string; rule: string }[];
      };
      expect(baseline.accepted.map((entry) => `${entry.migration} ${entry.rule}`)).to.deep.equal([
        '1600000001000_index_accounts_email create-index-not-concurrently',
        '1600000002000_add_accounts_status add-column-not-null-without-default',
        '1700000000000_index_accounts_status create-index-not-concurrently',
      ]);
      const lint = await runGulp(['lint'], { cwd: other.dir });
      expect(lint.code, lint.output).to.equal(0);
      expect(lint.output).to.include('1 finding accepted by .pgmt-lint-baseline.json: `gulp lint --all` lists them');
      // A second mistake of the same kind in the same migration is new.
      other.writeFile(
        'migrations/1700000000000_index_accounts_status.ts',
        ts("pgm.createIndex('accounts', 'status'); pgm.createIndex('accounts', ['status', 'email']);", "pgm.dropIndex('accounts', 'status');"),
      );
      const again = await runGulp(['lint'], { cwd: other.dir });
      expect(again.code).to.equal(1);
      expect(again.output).to.include('lint found 1 error in 1 file');
    } finally {
      other.remove();
    }
  });

  it('without git, every migration is new to lint, and migrate:local still runs (warnings)', async () => {
    const plain = createTestProject();
    try {
      mkdirSync(plain.migrationsDir);
      for (const [name, text] of Object.entries({ ...HISTORY, ...NEW })) plain.writeFile(`migrations/${name}`, text);
      // .test-projects is ignored by this repository's git: not a checkout of its own, its files are untracked.
      const lint = await runGulp(['lint'], { cwd: plain.dir });
      expect(lint.output).to.include('lint found 3 errors in 3 files');
      const run = await runGulp(['migrate:local'], { cwd: plain.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('Applied 4 migrations');
      expect(run.output).to.include('Lint: 3 warnings in 3 files (not blocking; 3 of them are errors on a database others use, not on this local one');
    } finally {
      plain.remove();
    }
  });
});

describe('adopting: other kinds of history', () => {
  it('a CommonJS history with noTransaction and raw SQL migrates with no flags', async () => {
    const js = (body: string, down: string) => `exports.up = (pgm) => {\n  ${body}\n};\n\nexports.down = (pgm) => {\n  ${down}\n};\n`;
    const project = projectWithHistory(
      {
        '1500000000000_create_events.js': js("pgm.createTable('events', { id: 'id', kind: 'text' });", "pgm.dropTable('events');"),
        '1500000001000_index_events_kind.js': js(
          "pgm.noTransaction();\n  pgm.createIndex('events', 'kind', { concurrently: true });",
          "pgm.noTransaction();\n  pgm.dropIndex('events', 'kind', { concurrently: true });",
        ),
        '1500000002000_backfill.js': js(
          "pgm.sql(\"UPDATE events SET kind = 'legacy' WHERE kind IS NULL\");\n  pgm.alterColumn('events', 'kind', { notNull: true });",
          "pgm.alterColumn('events', 'kind', { notNull: false });",
        ),
      },
      { '1600000000000_add_events_payload.js': js("pgm.addColumn('events', { payload: 'jsonb' });", "pgm.dropColumn('events', 'payload');") },
    );
    try {
      const run = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('Applied 4 migrations');
    } finally {
      project.remove();
    }
  });

  it('a plain SQL history with its rollbacks in down/ migrates, and lint judges only the new file', async () => {
    const project = projectWithHistory(
      {
        '1400000000000_create_items.sql': 'CREATE TABLE items (id bigint PRIMARY KEY, name text);\n',
        '1400000001000_index_items_name.sql': 'CREATE INDEX items_name_idx ON items (name);\n',
        'down/1400000000000_create_items.sql': 'DROP TABLE items;\n',
        'down/1400000001000_index_items_name.sql': 'DROP INDEX items_name_idx;\n',
      },
      {
        '1500000000000_add_items_price.sql': 'ALTER TABLE items ADD COLUMN price numeric NOT NULL;\n',
        'down/1500000000000_add_items_price.sql': 'ALTER TABLE items DROP COLUMN price;\n',
      },
    );
    try {
      expect(existsSync(path.join(project.migrationsDir, 'down'))).to.equal(true);
      const lint = await runGulp(['lint'], { cwd: project.dir });
      expect(lint.output).to.include('1500000000000_add_items_price.sql');
      expect(lint.output).to.include('add-column-not-null-without-default');
      expect(lint.output).to.include('1 finding in migrations already on main');
      const run = await runGulp(['migrate:local'], { cwd: project.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('Applied 3 migrations');
    } finally {
      project.remove();
    }
  });
});
