import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskError } from '../../tasks/util/errors';
import { lintMigrationFiles, lintMigrationsFolder, RULES, type FileLintResult, type LintOptions } from '../../tasks/lint';
import { FILE_RULES } from '../../tasks/lint/file-rules';
import { SQL_RULES } from '../../tasks/lint/sql-rules';
import { FIXTURES } from '../support/project';

const FOLDER = path.join(FIXTURES, 'lint');

/** `line:column rule-id` per finding, in the order reported. */
const brief = (result: FileLintResult | undefined) =>
  (result?.diagnostics ?? []).map((diagnostic) => `${diagnostic.line}:${diagnostic.column} ${diagnostic.ruleId}`);

/**
 * test/fixtures/lint: one migration per rule, with the cases that must stay quiet beside them. Locations are exact:
 * the line and column of the `pgm.*(…)` call that renders the statement, of the statement inside a pgm.sql string,
 * or of the statement in a .sql file.
 */
const EXPECTED: Record<string, string[]> = {
  '1100000000001_index_existing_table.ts': ['5:3 create-index-not-concurrently'],
  '1100000000002_index_new_table.ts': [],
  '1100000000003_index_concurrently.ts': [],
  '1100000000004_concurrently_in_transaction.ts': ['5:3 concurrently-in-transaction', '6:3 concurrently-in-transaction'],
  '1100000000005_concurrently.sql': ['3:1 concurrently-in-transaction'],
  '1100000000006_add_column_not_null.ts': ['5:3 add-column-not-null-without-default'],
  '1100000000007_volatile_default.ts': ['6:3 add-column-volatile-default', '7:3 add-column-volatile-default'],
  '1100000000008_constraints.ts': ['5:3 constraint-without-not-valid', '6:3 constraint-without-not-valid'],
  '1100000000009_alter_and_rename.ts': ['5:3 alter-column-type', '6:3 rename-column', '7:3 rename-table', '8:3 set-not-null'],
  '1100000000010_new_table_changes.ts': [],
  '1100000000011_destructive.ts': ['5:3 drop-column', '6:3 drop-table', '7:12 drop-database'],
  '1100000000012_prefer_text.ts': ['5:3 prefer-text', '5:3 prefer-text'],
  '1100000000013_lock_timeout.ts': [], // missing-lock-timeout is off by default (see the config test)
  '1100000000014_lock_timeout_set.ts': [],
  '1100000000015_irreversible.ts': ['6:3 irreversible-without-marker'],
  '1100000000016_irreversible_marked.ts': [],
  '1100000000017_reversible_without_down.ts': [],
  '1100000000018_rules.sql': [
    '5:1 create-index-not-concurrently',
    '6:1 add-column-not-null-without-default',
    '6:1 add-column-volatile-default',
    '9:3 alter-column-type',
    '10:1 rename-table',
    '10:39 drop-table',
    '12:1 prefer-text',
  ],
  '1100000000019_syntax_error.sql': ['3:1 sql-syntax-error', '4:1 drop-column'],
  '1100000000020_sql_in_builder.ts': ['6:5 drop-column', '7:5 rename-column', '9:12 sql-syntax-error'],
  '1100000000021_queries_database.ts': ['5:26 queries-database'],
  '1100000000022_render_error.ts': ['6:3 render-error'],
  '1100000000023_suppressed.ts': ['11:5 rename-column', '15:3 drop-table'],
  '1100000000024_suppressed.sql': ['10:1 unknown-rule', '10:1 unknown-rule', '11:1 rename-table'],
  '1100000000025_file_wide.ts': ['7:3 unknown-rule', '8:3 rename-column'],
  '1100000000026_transaction_control.ts': ['5:12 transaction-control'],
};

describe('lintMigrationFiles / lintMigrationsFolder (the lint engine)', () => {
  let folder: FileLintResult[];
  const options = (projectDir: string, extra: Partial<LintOptions> = {}) => ({ migrationsDir: FOLDER, projectDir, typeCheck: false, newFiles: [], ...extra });

  before(async () => {
    folder = await lintMigrationFiles(
      readdirSync(FOLDER).map((file) => path.join(FOLDER, file)),
      options(FOLDER),
    );
  });
  const result = (file: string) => folder.find((candidate) => path.basename(candidate.file) === file);

  it('reports exactly the expected rule ids at the expected line:column, file by file', () => {
    expect(Object.fromEntries(folder.map((entry) => [path.basename(entry.file), brief(entry)]))).to.deep.equal(EXPECTED);
  });

  it('has a fixture that triggers every SQL rule (missing-lock-timeout through the config)', () => {
    const triggered = new Set(
      Object.values(EXPECTED)
        .flat()
        .map((entry) => entry.split(' ')[1]),
    );
    for (const rule of SQL_RULES) if (rule.id !== 'missing-lock-timeout') expect(triggered, rule.id).to.include(rule.id);
  });

  it('says what is wrong, which statement it is (TS/JS), and what to do', () => {
    expect(result('1100000000001_index_existing_table.ts')!.diagnostics).to.deep.equal([
      {
        ruleId: 'create-index-not-concurrently',
        severity: 'error',
        message:
          'CREATE INDEX without CONCURRENTLY (index "users_email_index") on existing table "users" blocks writes to it while the index builds ' +
          '(in: CREATE INDEX "users_email_index" ON "users" ("email"))',
        hint: 'pass { concurrently: true } to pgm.createIndex and call pgm.noTransaction() in this migration',
        file: path.join(FOLDER, '1100000000001_index_existing_table.ts'),
        line: 5,
        column: 3,
        source: 'pg-migrate-tasks',
      },
    ]);
    const [concurrently] = result('1100000000005_concurrently.sql')!.diagnostics;
    expect(concurrently!.message).to.equal(
      'CREATE INDEX CONCURRENTLY (index "users_email") cannot run inside a transaction block, and this migration runs in one',
    );
    expect(concurrently!.hint).to.equal('move it to a TS/JS migration that calls pgm.noTransaction() (node-pg-migrate runs .sql files in a transaction)');
    const [irreversible] = result('1100000000015_irreversible.ts')!.diagnostics;
    expect(irreversible!.message).to.equal('no down, and node-pg-migrate cannot reverse pgm.sql() automatically: rolling this migration back would fail');
    expect(irreversible!.hint).to.equal('write a down that undoes up, or export `down = false` to mark the migration irreversible');
    expect(
      result('1100000000024_suppressed.sql')!
        .diagnostics.filter((diagnostic) => diagnostic.ruleId === 'unknown-rule')
        .map((diagnostic) => diagnostic.message),
    ).to.deep.equal([
      'unknown rule id "drop-colum" in a lint-ignore comment (did you mean "drop-column"?)',
      'unknown rule id "rename-tabel" in a lint-ignore comment (did you mean "rename-table"?)',
    ]);
  });

  it('lists every rule once: the file-level ones, the SQL ones and unknown-rule', () => {
    const ids = RULES.map((rule) => rule.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const rule of [...FILE_RULES, ...SQL_RULES]) expect(ids).to.include(rule.id);
    expect(ids).to.include('unknown-rule');
  });

  describe('in a project folder', () => {
    let dir: string;
    let migrationsDir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'lint-engine-'));
      migrationsDir = path.join(dir, 'migrations');
      mkdirSync(migrationsDir);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, content: string) => {
      writeFileSync(path.join(migrationsDir, name), content);
      return path.join(migrationsDir, name);
    };
    const lint = (files: string[]) => lintMigrationFiles(files, { migrationsDir, projectDir: dir, typeCheck: false, newFiles: [] });
    const fixture = (name: string) => write(name, readFixture(name));

    it('applies .pgmt-lint.json: severities, off, rules that are off by default; its problems are reported on it, last', async () => {
      const files = ['1100000000011_destructive.ts', '1100000000012_prefer_text.ts', '1100000000013_lock_timeout.ts', '1100000000014_lock_timeout_set.ts'].map(
        fixture,
      );
      writeFileSync(
        path.join(dir, '.pgmt-lint.json'),
        JSON.stringify(
          {
            rules: { 'drop-table': 'error', 'prefer-text': 'off', 'missing-lock-timeout': 'warning', 'drop-colum': 'off', 'rename-table': 'fatal' },
            squawk: 'yes',
          },
          null,
          2,
        ),
      );
      const results = await lint(files);
      expect(results.map((entry) => path.basename(entry.file))).to.deep.equal([...files.map((file) => path.basename(file)), '.pgmt-lint.json']);
      expect(results[0]!.diagnostics.map((diagnostic) => `${diagnostic.line}:${diagnostic.column} ${diagnostic.severity} ${diagnostic.ruleId}`)).to.deep.equal([
        '5:3 warning drop-column',
        '5:3 warning missing-lock-timeout',
        '6:3 error drop-table',
        '7:12 warning drop-database',
      ]);
      expect(brief(results[1])).to.deep.equal([]);
      expect(results[2]!.diagnostics.map((diagnostic) => `${diagnostic.line}:${diagnostic.column} ${diagnostic.severity} ${diagnostic.ruleId}`)).to.deep.equal([
        '7:3 warning missing-lock-timeout',
      ]);
      expect(results[2]!.diagnostics[0]!.message).to.equal(
        'ALTER TABLE on "users" takes a lock with no lock_timeout set before it: it can queue behind a long query and block every query on the table (in: ALTER TABLE "users" ADD "locale" text)',
      );
      expect(brief(results[3])).to.deep.equal([]);
      const config = results[4]!.diagnostics.map(({ ruleId, line, column, message }) => ({ ruleId, line, column, message }));
      expect(config).to.deep.equal([
        { ruleId: 'unknown-rule', line: 6, column: 5, message: 'unknown rule id "drop-colum" in .pgmt-lint.json (did you mean "drop-column"?)' },
        {
          ruleId: 'invalid-config',
          line: 7,
          column: 5,
          message: '.pgmt-lint.json: expected rule "rename-table" to be "error", "warning", "info" or "off", got "fatal"',
        },
        { ruleId: 'invalid-config', line: 9, column: 3, message: '.pgmt-lint.json: expected "squawk" to be true or false, got "yes"' },
      ]);
    });

    it('reports a config file that is not JSON, and lints with the defaults', async () => {
      const file = fixture('1100000000012_prefer_text.ts');
      writeFileSync(path.join(dir, '.pgmt-lint.json'), '{ "rules": { "prefer-text": "off", } }');
      const [migration, config] = await lint([file]);
      expect(brief(migration)).to.deep.equal(['5:3 prefer-text', '5:3 prefer-text']);
      expect(config!.diagnostics.map(({ ruleId, line, column }) => `${line}:${column} ${ruleId}`)).to.deep.equal(['1:36 invalid-config']);
      expect(config!.diagnostics[0]!.message).to.match(/^\.pgmt-lint\.json: not valid JSON \(/);
    });

    it('type-checks TS migrations unless .pgmt-lint.json says "typeCheck": false (an option wins over both)', async () => {
      const file = write(
        '1000000000001_typed.ts',
        "import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  pgm.dropTable(42);\n};\n\nexport const down = false;\n",
      );
      const ruleIds = async (options: Partial<LintOptions>) =>
        (await lintMigrationFiles([file], { migrationsDir, projectDir: dir, newFiles: [], ...options }))[0]!.diagnostics.map((diagnostic) => diagnostic.ruleId);
      expect(await ruleIds({})).to.deep.equal(['drop-table', 'type-error']);
      writeFileSync(path.join(dir, '.pgmt-lint.json'), '{ "typeCheck": false }');
      expect(await ruleIds({})).to.deep.equal(['drop-table']);
      expect(await ruleIds({ typeCheck: true })).to.deep.equal(['drop-table', 'type-error']);
    });

    it('takes options.config instead of the file', async () => {
      const file = fixture('1100000000012_prefer_text.ts');
      writeFileSync(path.join(dir, '.pgmt-lint.json'), '{ "rules": { "prefer-text": "error" } }');
      const [migration, extra] = await lintMigrationFiles([file], {
        migrationsDir,
        projectDir: dir,
        typeCheck: false,
        newFiles: [],
        config: { rules: { 'prefer-text': 'warning' } },
      });
      expect(migration!.diagnostics.map((diagnostic) => diagnostic.severity)).to.deep.equal(['warning', 'warning']);
      expect(extra).to.equal(undefined);
    });

    it('skips SQL rules for a file node-pg-migrate cannot load, and reports why', async () => {
      const broken = write('1000000000001_broken.ts', "export const up = (pgm) => {\n  pgm.createIndex('users', 'email'\n};\n");
      const throws = write('1000000000002_throws.js', "throw new Error('no config');\nexports.up = (pgm) => pgm.dropTable('users');\n");
      const [first, second] = await lint([broken, throws]);
      expect(first!.diagnostics.map((diagnostic) => diagnostic.ruleId)).to.include('load-error');
      expect(first!.diagnostics.map((diagnostic) => diagnostic.ruleId)).to.not.include('create-index-not-concurrently');
      expect(second!.diagnostics.map((diagnostic) => diagnostic.ruleId)).to.deep.equal(['load-error']);
      expect(second!.diagnostics[0]!.message).to.include('no config');
    });

    it('lints a changed file as it is now (the watcher lints the same file again and again)', async () => {
      const file = write('1000000000001_users.ts', "exports.up = (pgm) => {\n  pgm.createIndex('users', 'email');\n};\nexports.down = false;\n");
      expect(brief((await lint([file]))[0])).to.deep.equal(['2:3 create-index-not-concurrently']);
      write(
        '1000000000001_users.ts',
        "exports.up = (pgm) => {\n  pgm.noTransaction();\n  pgm.createIndex('users', 'email', { concurrently: true });\n};\nexports.down = false;\n",
      );
      expect(brief((await lint([file]))[0])).to.deep.equal([]);
      write('1000000000001_users.ts', "exports.up = (pgm) => {\n\n  pgm.dropTable('users');\n};\nexports.down = false;\n");
      expect(brief((await lint([file]))[0])).to.deep.equal(['3:3 drop-table']);
    });

    it('renders with the column shorthands of earlier migrations, also when linting one file', async () => {
      write(
        '1000000000001_shorthands.ts',
        "exports.shorthands = { code: { type: 'varchar(8)', notNull: true } };\nexports.up = () => undefined;\nexports.down = false;\n",
      );
      const later = write('1000000000002_codes.ts', "exports.up = (pgm) => {\n  pgm.createTable('codes', { id: 'id', value: 'code' });\n};\n");
      expect(brief((await lint([later]))[0])).to.deep.equal(['2:3 prefer-text']);
    });

    it('locates statements made by a helper: at its pgm call in the same file, at the helper call for another module', async () => {
      const local = write(
        '1000000000001_local_helper.js',
        "const audit = (pgm, table) => {\n  pgm.dropColumns(table, ['audit']);\n};\nexports.up = (pgm) => {\n  audit(pgm, 'users');\n};\nexports.down = false;\n",
      );
      mkdirSync(path.join(dir, 'lib'));
      writeFileSync(path.join(dir, 'lib', 'audit.js'), "exports.dropAudit = (pgm, table) => pgm.dropColumns(table, ['audit']);\n");
      const shared = write(
        '1000000000002_shared_helper.js',
        "const { dropAudit } = require('../lib/audit');\n\nexports.up = (pgm) => {\n  dropAudit(pgm, 'users');\n};\nexports.down = false;\n",
      );
      const [first, second] = await lint([local, shared]);
      expect(brief(first)).to.deep.equal(['2:3 drop-column']);
      expect(brief(second)).to.deep.equal(['4:3 drop-column']);
    });

    it('renders callback-style and async ups (node-pg-migrate passes a callback to two-parameter ups)', async () => {
      const callback = write(
        '1000000000001_callback.js',
        "exports.up = function (pgm, run) {\n  setTimeout(() => {\n    pgm.dropTable('users');\n    run();\n  }, 1);\n};\nexports.down = false;\n",
      );
      const awaiting = write(
        '1000000000002_async.js',
        "exports.up = async (pgm) => {\n  await new Promise((resolve) => setTimeout(resolve, 1));\n  pgm.renameTable('a', 'b');\n};\nexports.down = false;\n",
      );
      const [first, second] = await lint([callback, awaiting]);
      expect(brief(first)).to.deep.equal(['3:5 drop-table']);
      expect(brief(second)).to.deep.equal(['3:3 rename-table']);
    });

    it('lints the folder as the runner sees it: what it skips is skipped, files that break it (with --ignore-pattern) reported', async () => {
      write('1000000000001_users.sql', '-- Up Migration\nDROP TABLE users;\n-- Down Migration\n');
      write('.1000000000002_hidden.sql', '-- Up Migration\nDROP TABLE hidden;\n');
      write('notes.md', '# notes');
      mkdirSync(path.join(migrationsDir, 'archive'));
      const results = await lintMigrationsFolder({ migrationsDir, projectDir: dir, typeCheck: false });
      expect(results.map((entry) => path.basename(entry.file))).to.deep.equal(['1000000000001_users.sql']);
      expect(brief(results[0])).to.deep.equal(['2:1 drop-table']);
      // A pattern of the user's that skips only dotfiles: notes.md is then a file the runner chokes on.
      const strict = await lintMigrationsFolder({ migrationsDir, projectDir: dir, typeCheck: false, ignorePattern: '\\..*' });
      expect(strict.map((entry) => path.basename(entry.file))).to.deep.equal(['1000000000001_users.sql', 'notes.md']);
      expect(strict[1]!.diagnostics.length).to.be.greaterThan(0);
    });

    it('refuses a migrations folder that does not exist, saying what to do', async () => {
      try {
        await lintMigrationsFolder({ migrationsDir: path.join(dir, 'nowhere'), projectDir: dir });
        expect.fail('expected a TaskError');
      } catch (error) {
        expect(error).to.be.instanceOf(TaskError);
        expect((error as Error).message).to.equal(
          'cannot read the migrations folder nowhere/: ENOENT\n  hint: create a first migration with `gulp migrate:create --name <what_it_does>`, or set the migrations folder in .env (MIGRATIONS_DIR)',
        );
      }
    });
  });
});

function readFixture(name: string): string {
  return readFileSync(path.join(FOLDER, name), 'utf8');
}
