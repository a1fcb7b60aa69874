import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dryRunSummary, formatDryRun } from '../../tasks/engine/dry-run';
import { TaskError } from '../../tasks/util/errors';
import { MigrationRenderError, loadMigrationFiles, renderMigration, renderMigrations, type RenderedMigration } from '../../tasks/sources/render-sql';

describe('renderMigrations (SQL without a database)', () => {
  let dir: string;
  let migrationsDir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'render-sql-'));
    migrationsDir = path.join(dir, 'migrations');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(files: Record<string, string>): void {
    mkdirSync(migrationsDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(migrationsDir, name), content);
  }
  const render = (direction: 'up' | 'down', names?: string[]) => renderMigrations({ dir: migrationsDir, projectDir: dir, direction, names });
  async function renderFailure(direction: 'up' | 'down', names?: string[]): Promise<MigrationRenderError> {
    try {
      await render(direction, names);
    } catch (error) {
      expect(error).to.be.instanceOf(MigrationRenderError);
      expect(error).to.be.instanceOf(TaskError);
      return error as MigrationRenderError;
    }
    throw new Error('expected rendering to fail');
  }

  it('renders a .sql migration from its -- Up Migration and -- Down Migration sections', async () => {
    write({
      '1000000000001_add_widgets.sql': [
        '-- Up Migration',
        'CREATE TABLE widgets (id integer PRIMARY KEY);',
        'CREATE INDEX widgets_id ON widgets (id);',
        '-- Down Migration',
        'DROP TABLE widgets;',
        '',
      ].join('\n'),
    });
    const [up] = await render('up');
    expect(up).to.deep.equal({
      name: '1000000000001_add_widgets',
      path: path.join(migrationsDir, '1000000000001_add_widgets.sql'),
      direction: 'up',
      // node-pg-migrate's pgm.sql adds a ';' when the text does not end with one (here: a newline).
      statements: ['-- Up Migration\nCREATE TABLE widgets (id integer PRIMARY KEY);\nCREATE INDEX widgets_id ON widgets (id);\n;'],
      usesTransaction: true,
      reversed: false,
      ledgerStatement: `INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1000000000001_add_widgets', NOW());`,
    });
    const [down] = await render('down');
    expect(down!.statements).to.deep.equal(['-- Down Migration\nDROP TABLE widgets;\n;']);
    expect(down!.ledgerStatement).to.equal(`DELETE FROM "public"."pgmigrations" WHERE name='1000000000001_add_widgets';`);
  });

  it('refuses to roll back a .sql migration without a Down section (node-pg-migrate treats it as down = false)', async () => {
    write({ '1000000000001_only_up.sql': 'CREATE TABLE t (id int);\n' });
    const error = await renderFailure('down');
    expect(error.message).to.equal(
      'migration 1000000000001_only_up cannot be rolled back: it exports down = false (irreversible)\n' +
        '  hint: roll back fewer migrations (--count), or give migrations/1000000000001_only_up.sql a down that reverses its up',
    );
    expect(error.reason).to.equal('disabled');
  });

  it('renders DROP TABLE for the down of a migration that only creates a table (reverse mode)', async () => {
    write({
      '1000000000001_create_widgets.ts': `export const up = (pgm: any) => {
  pgm.createTable('widgets', { id: { type: 'serial', primaryKey: true }, name: { type: 'text', notNull: true } });
  pgm.createIndex('widgets', 'name');
};
`,
    });
    const [down] = await render('down');
    expect(down!.statements).to.deep.equal(['DROP INDEX "widgets_name_index";', 'DROP TABLE "widgets";']);
    expect(down!.reversed).to.equal(true);
    expect(down!.ledgerStatement).to.equal(`DELETE FROM "public"."pgmigrations" WHERE name='1000000000001_create_widgets';`);
  });

  it('renders the up of a loaded migration unreversed after rendering its down', async () => {
    write({ '1000000000001_create_widgets.ts': `export const up = (pgm: any) => { pgm.createTable('widgets', { id: 'serial' }); };\n` });
    const [loaded] = await loadMigrationFiles({ dir: migrationsDir, projectDir: dir });
    const down = await renderMigration(loaded!, { direction: 'down' });
    const up = await renderMigration(loaded!, { direction: 'up' });
    expect(down.statements).to.deep.equal(['DROP TABLE "widgets";']);
    expect(up.statements).to.deep.equal(['CREATE TABLE "widgets" (\n  "id" serial\n);']);
    expect(up.reversed).to.equal(false);
  });

  it('says which operation cannot be reversed when a migration without down uses one', async () => {
    write({ '1000000000001_raw.ts': `export const up = (pgm: any) => { pgm.sql('UPDATE t SET x = 1'); };\n` });
    const error = await renderFailure('down');
    expect(error.message).to.equal(
      'migration 1000000000001_raw has no down, and node-pg-migrate cannot reverse its pgm.sql() call automatically\n' +
        '  hint: write a down in migrations/1000000000001_raw.ts (or export `down = false` to mark it irreversible)',
    );
    expect(error.reason).to.equal('irreversible');
  });

  it('names pgm.db.query as what cannot be reversed, not the operation called before it', async () => {
    write({ '1000000000001_mixed.ts': `export const up = async (pgm: any) => { pgm.createTable('a', { id: 'serial' }); await pgm.db.query('SELECT 1'); };\n` });
    const error = await renderFailure('down');
    expect(error.message).to.match(
      /^migration 1000000000001_mixed has no down, and node-pg-migrate cannot reverse its pgm\.db\.query\(\) call automatically\n/,
    );
  });

  it('applies shorthands exported by an earlier migration, and marks pgm.noTransaction()', async () => {
    write({
      '1000000000001_shorthands.js': `exports.shorthands = { id: { type: 'uuid', primaryKey: true } };\nexports.up = () => {};\n`,
      '1000000000002_uses_them.ts': `export const up = (pgm: any) => {
  pgm.noTransaction();
  pgm.createTable('things', { id: 'id' });
  pgm.addTypeValue('kind', 'new');
};
`,
    });
    const [first, second] = await render('up');
    expect(first!.statements).to.deep.equal([]);
    expect(second!.statements).to.deep.equal(['CREATE TABLE "things" (\n  "id" uuid PRIMARY KEY\n);', `ALTER TYPE "kind" ADD VALUE $pga$new$pga$;`]);
    expect([first!.usesTransaction, second!.usesTransaction]).to.deep.equal([true, false]);
  });

  it('renders only the named migrations, in the order given', async () => {
    write({
      '1000000000001_a.sql': '-- Up Migration\nSELECT 1;\n-- Down Migration\nSELECT -1;\n',
      '1000000000002_b.sql': '-- Up Migration\nSELECT 2;\n-- Down Migration\nSELECT -2;\n',
      '1000000000003_c.sql': '-- Up Migration\nSELECT 3;\n-- Down Migration\nSELECT -3;\n',
    });
    const rendered = await render('down', ['1000000000003_c', '1000000000002_b']);
    expect(rendered.map((migration) => migration.statements)).to.deep.equal([['-- Down Migration\nSELECT -3;\n;'], ['-- Down Migration\nSELECT -2;\n;']]);
  });

  it('refuses a migration that queries the database while building its SQL, even when it catches the failure', async () => {
    write({
      '1000000000001_backfill.ts': `export const up = async (pgm: any) => {
  let count = 0;
  try { count = (await pgm.db.query('SELECT count(*) FROM users')).rows.length; } catch {}
  pgm.sql('UPDATE users SET n = ' + count);
};
`,
    });
    const error = await renderFailure('up');
    expect(error.message).to.equal(
      'migration 1000000000001_backfill queries the database while building its SQL (pgm.db.query): it cannot be dry-run\n' +
        "  hint: apply it to a throw-away database instead (`gulp migrate:local`), or build migrations/1000000000001_backfill.ts's SQL without pgm.db (e.g. a DO block in pgm.sql)",
    );
    expect(error.reason).to.equal('queries-database');
    expect(error.file).to.equal(path.join(migrationsDir, '1000000000001_backfill.ts'));
  });

  it('names a file that fails to load, with the loader message, before rendering anything', async () => {
    write({
      '1000000000001_fine.ts': `export const up = (pgm: any) => { pgm.createTable('a', { id: 'serial' }); };\n`,
      '1000000000002_throws.js': `throw new Error('cannot import ./helpers');\n`,
    });
    const error = await renderFailure('up');
    expect(error.message).to.equal(
      'could not load migration migrations/1000000000002_throws.js: cannot import ./helpers\n' +
        '  hint: fix migrations/1000000000002_throws.js (a syntax error, or an import that fails or throws), then run the command again',
    );
    expect([error.reason, error.migration]).to.deep.equal(['load', '1000000000002_throws']);
  });

  it('says when a migration has no up function', async () => {
    write({ '1000000000001_empty.ts': 'export const down = () => {};\n' });
    const error = await renderFailure('up');
    expect(error.message).to.match(/^migration 1000000000001_empty has no up function to run \(migrations\/1000000000001_empty\.ts exports no `up`\)\n/);
  });
});

describe('formatDryRun', () => {
  const migration = (name: string, statements: string[], usesTransaction = true): RenderedMigration => ({
    name,
    path: `/p/migrations/${name}.ts`,
    direction: 'up',
    statements,
    usesTransaction,
    reversed: false,
    ledgerStatement: `INSERT ${name};`,
  });
  const plan = {
    direction: 'up' as const,
    migrations: [
      migration('1_a', ['CREATE TABLE a ();']),
      migration('2_b', ['ALTER TYPE k ADD VALUE $$v$$;'], false),
      migration('3_c', ['CREATE TABLE c ();']),
    ],
    ledgerExists: true,
    ledgerTable: '"public"."pgmigrations"',
  };

  it('frames a single-transaction run in one BEGIN/COMMIT that a noTransaction migration breaks', () => {
    expect(formatDryRun(plan, { singleTransaction: true, projectDir: '/p' })).to.deep.equal([
      'BEGIN;',
      '-- ↑ 1_a (migrations/1_a.ts)',
      'CREATE TABLE a ();',
      'INSERT 1_a;',
      '-- ↑ 2_b (migrations/2_b.ts; pgm.noTransaction(): breaks out of the transaction, a failure after it cannot undo it)',
      'COMMIT;',
      'ALTER TYPE k ADD VALUE $$v$$;',
      'INSERT 2_b;',
      'BEGIN;',
      '-- ↑ 3_c (migrations/3_c.ts)',
      'CREATE TABLE c ();',
      'INSERT 3_c;',
      'COMMIT;',
      'Dry run: 3 migrations would be applied; nothing was changed',
    ]);
  });

  it('frames each migration on its own with --no-single-transaction, and shows the ledger table a first run creates', () => {
    expect(formatDryRun({ ...plan, ledgerExists: false }, { singleTransaction: false, projectDir: '/p' })).to.deep.equal([
      '-- the ledger table "public"."pgmigrations" does not exist yet: node-pg-migrate creates it before the run',
      'CREATE TABLE "public"."pgmigrations" (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);',
      '-- ↑ 1_a (migrations/1_a.ts)',
      'BEGIN;',
      'CREATE TABLE a ();',
      'INSERT 1_a;',
      'COMMIT;',
      '-- ↑ 2_b (migrations/2_b.ts; pgm.noTransaction(): not wrapped in a transaction)',
      'ALTER TYPE k ADD VALUE $$v$$;',
      'INSERT 2_b;',
      '-- ↑ 3_c (migrations/3_c.ts)',
      'BEGIN;',
      'CREATE TABLE c ();',
      'INSERT 3_c;',
      'COMMIT;',
      'Dry run: 3 migrations would be applied; nothing was changed',
    ]);
  });

  it('summarises empty and single-migration runs in both directions', () => {
    expect(dryRunSummary('up', 0)).to.equal('Dry run: no pending migrations; nothing was changed');
    expect(dryRunSummary('down', 0)).to.equal('Dry run: no migration is applied, nothing to roll back; nothing was changed');
    expect(dryRunSummary('down', 1)).to.equal('Dry run: 1 migration would be rolled back; nothing was changed');
  });
});
