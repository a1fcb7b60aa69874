import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createTestProject, runGulp, type TestProject } from '../support/project';

const EMBEDDED = { DB_PROVIDER: 'embedded' };
const ts = (up: string, down: string | false) =>
  `import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  ${up}\n};\n\n${
    down === false ? 'export const down = false;' : `export const down = (pgm: MigrationBuilder): void => {\n  ${down}\n};`
  }\n`;

/** History whose second down is wrong (it leaves an index behind): shipped years ago, verified by nobody. */
const HISTORY: Record<string, string> = {
  '1600000000000_create_accounts.ts': ts("pgm.createTable('accounts', { id: 'id', email: 'text' });", "pgm.dropTable('accounts');"),
  '1600000001000_index_accounts.ts': ts("pgm.createIndex('accounts', 'email');", "pgm.sql('SELECT 1');"),
  '1600000002000_create_invoices.ts': ts(
    "pgm.createTable('invoices', { id: 'id', account_id: { type: 'integer', references: 'accounts' } });",
    "pgm.dropTable('invoices');",
  ),
};
const NEW: Record<string, string> = {
  '1700000000000_add_invoice_total.ts': ts("pgm.addColumn('invoices', { total: 'numeric' });", "pgm.dropColumn('invoices', 'total');"),
  '1700000001000_create_payments.ts': ts(
    "pgm.createTable('payments', { id: 'id', invoice_id: { type: 'integer', references: 'invoices' } });",
    "pgm.dropTable('payments');",
  ),
};

function git(dir: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, stdio: 'ignore' });
}

function project(files: Record<string, string>): TestProject {
  const created = createTestProject();
  mkdirSync(created.migrationsDir);
  for (const [name, text] of Object.entries(files)) created.writeFile(`migrations/${name}`, text);
  return created;
}

describe('migrate:verify for real histories', () => {
  it('checks the whole history by default, and finds the old down that leaves an index behind', async () => {
    const all = project({ ...HISTORY, ...NEW });
    try {
      const run = await runGulp(['migrate:verify'], { cwd: all.dir, env: EMBEDDED });
      expect(run.code).to.equal(1);
      expect(run.output).to.include('1600000001000_index_accounts: down leaves behind index "accounts_email_index" on accounts');
    } finally {
      all.remove();
    }
  });

  it('--since NAME applies the history once and verifies only what comes after it', async () => {
    const since = project({ ...HISTORY, ...NEW });
    try {
      const run = await runGulp(['migrate:verify', '--since', '1600000002000_create_invoices'], { cwd: since.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.match(/Applied 3 migrations of history at once, up to 1600000002000_create_invoices \(\d+ ms\); verifying the migrations after it/);
      expect(run.output).to.match(/Verified 2 migrations: each down reverses its up/);
      expect(run.output).to.include('✓ 1700000001000_create_payments');
      expect(run.output).not.to.include('✓ 1600000001000_index_accounts');
      const last = await runGulp(['migrate:verify', '--since', '1700000001000_create_payments'], { cwd: since.dir, env: EMBEDDED });
      expect(last.code, last.output).to.equal(0);
      expect(last.output).to.include('No migrations after --since 1700000001000_create_payments: nothing to verify (the history before it applied cleanly)');
    } finally {
      since.remove();
    }
  });

  it('--since REF: the migrations on that git ref are history', async () => {
    const repo = project(HISTORY);
    try {
      git(repo.dir, 'init', '-q');
      git(repo.dir, 'add', '-A');
      git(repo.dir, 'commit', '-q', '-m', 'history');
      git(repo.dir, 'checkout', '-q', '-b', 'feature');
      for (const [name, text] of Object.entries(NEW)) repo.writeFile(`migrations/${name}`, text);
      const run = await runGulp(['migrate:verify', '--since', 'main'], { cwd: repo.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('Applied 3 migrations of history at once, up to 1600000002000_create_invoices');
      expect(run.output).to.match(/Verified 2 migrations/);
      const wrong = await runGulp(['migrate:verify', '--since', 'no-such-ref'], { cwd: repo.dir, env: EMBEDDED });
      expect(wrong.code).to.equal(1);
      expect(wrong.output).to.include('--since no-such-ref is neither a migration of the folder nor a git ref this checkout knows');
    } finally {
      repo.remove();
    }
  });

  it('accepts what .pgmt-verify.json accepts, reporting each as accepted: a down that keeps its extension, an irreversible migration', async () => {
    const files = {
      '1600000000000_enable_trgm.ts': ts("pgm.createExtension('pg_trgm', { ifNotExists: true });", "pgm.sql('SELECT 1');"),
      '1600000001000_create_words.ts': ts("pgm.createTable('words', { id: 'id', word: 'text' });", "pgm.dropTable('words');"),
      '1600000002000_backfill_words.ts': ts('pgm.sql("INSERT INTO words (word) VALUES (\'x\')");', false),
    };
    const accepted = project(files);
    try {
      const refused = await runGulp(['migrate:verify'], { cwd: accepted.dir, env: EMBEDDED });
      expect(refused.code).to.equal(1);
      expect(refused.output).to.include(
        '1600000002000_backfill_words: its down is disabled (`export const down = false`), so migrate:verify cannot roll it back',
      );

      accepted.writeFile(
        '.pgmt-verify.json',
        JSON.stringify({
          leaves: ['extension'],
          reason: 'extensions stay installed',
          migrations: { '1600000002000_backfill_words': { irreversible: true, reason: 'a data backfill' } },
        }),
      );
      const run = await runGulp(['migrate:verify'], { cwd: accepted.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      expect(run.output).to.include('✓ 1600000002000_backfill_words (accepted: irreversible on purpose — a data backfill; not rolled back)');
      expect(run.output).to.include('✓ 1600000000000_enable_trgm (accepted: its down leaves extension "pg_trgm" — extensions stay installed)');
      expect(run.output).to.include('✓ 1600000001000_create_words');
      expect(run.output).to.match(/Verified 3 migrations/);

      accepted.writeFile('.pgmt-verify.json', '{ "migrations": { "x": { "irreversable": true } } }');
      const typo = await runGulp(['migrate:verify'], { cwd: accepted.dir, env: EMBEDDED });
      expect(typo.code).to.equal(1);
      expect(typo.output).to.include('.pgmt-verify.json "x" has unknown key irreversable (irreversible, leaves, reason)');
    } finally {
      accepted.remove();
    }
  });
});

describe('migrate:verify and lint', () => {
  it('refuses a migration that cannot load before any server starts, and only warns on lock-safety findings (a throw-away database)', async () => {
    const broken = project({ ...HISTORY, '1700000000000_broken.ts': 'export const up = (pgm => {\n' });
    try {
      const run = await runGulp(['migrate:verify'], { cwd: broken.dir, env: EMBEDDED });
      expect(run.code).to.equal(1);
      expect(run.output).to.include('1700000000000_broken.ts');
      expect(run.output).not.to.include('Database provider:');
    } finally {
      broken.remove();
    }
    const unsafe = project({
      ...HISTORY,
      '1700000000000_index_invoices.ts': ts("pgm.createIndex('invoices', 'account_id');", "pgm.dropIndex('invoices', 'account_id');"),
    });
    try {
      const run = await runGulp(['migrate:verify', '--since', '1600000002000_create_invoices'], { cwd: unsafe.dir, env: EMBEDDED });
      expect(run.code, run.output).to.equal(0);
      // No git here: every migration is new (the history's index too), and a warning on a throw-away database.
      expect(run.output).to.match(/Lint: 2 warnings in 2 files \(not blocking; 2 of them are errors on a database others use, not on this local one/);
      expect(run.output).to.include('✓ 1700000000000_index_invoices');
    } finally {
      unsafe.remove();
    }
  });
});
