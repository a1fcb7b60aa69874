import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lintMigrationsFolder, type FileLintResult, type LintOptions } from '../../tasks/lint';
import { defaultLintCacheDir, importedPackages, lintCacheFiles } from '../../tasks/lint/lint-cache';
import { REPO_ROOT } from '../support/project';

/** `name: line:column severity rule-id` per finding, file by file. */
const brief = (results: FileLintResult[]) =>
  results.flatMap(({ file, diagnostics }) =>
    diagnostics.map((diagnostic) => `${path.basename(file)}: ${diagnostic.line}:${diagnostic.column} ${diagnostic.severity} ${diagnostic.ruleId}`),
  );

describe('the lint cache (each unchanged file linted once)', () => {
  let dir: string;
  let migrationsDir: string;
  let cacheDir: string;
  let marker: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lint-cache-'));
    migrationsDir = path.join(dir, 'migrations');
    cacheDir = path.join(dir, 'cache');
    marker = path.join(dir, 'loaded.log');
    mkdirSync(migrationsDir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lint = (options: Partial<LintOptions> = {}) => lintMigrationsFolder({ migrationsDir, projectDir: dir, typeCheck: false, cacheDir, ...options });
  /**
   * A TS migration that logs its name to the marker file when it is loaded, i.e. linted (the cache skips that); `up`'s
   * body starts on line 5. TypeScript, because jiti loads a plain CommonJS .js file through Node's own module cache,
   * which keeps the first version for the life of the process.
   */
  const write = (name: string, up: string, { imports = '', after = '' } = {}) => {
    const file = path.join(migrationsDir, name);
    writeFileSync(
      file,
      `import { appendFileSync } from 'node:fs';${imports ? ` ${imports}` : ''}\nappendFileSync(${JSON.stringify(marker)}, '${name}\\n');\n\nexport const up = (pgm: any): void => {\n${up}\n};\n\nexport const down = false;\n${after}`,
    );
    return file;
  };
  /** The migrations loaded so far, in order. */
  const loads = () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean) : []);
  const indexFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((name) => name.endsWith('.json')) : []);

  it('gives a second run the same results without loading, rendering or parsing any file again', async () => {
    write('1000000000001_drop_users.ts', "  pgm.dropTable('users');");
    write('1000000000002_index_email.ts', "  pgm.createIndex('accounts', 'email');");
    writeFileSync(
      path.join(migrationsDir, '1000000000003_rename.sql'),
      '-- Up Migration\nALTER TABLE accounts RENAME TO customers;\n\n-- Down Migration\nALTER TABLE customers RENAME TO accounts;\n',
    );
    const first = await lint();
    expect(brief(first)).to.deep.equal([
      '1000000000001_drop_users.ts: 5:3 warning drop-table',
      '1000000000002_index_email.ts: 5:3 error create-index-not-concurrently',
      '1000000000003_rename.sql: 2:1 warning rename-table',
    ]);
    expect(loads()).to.deep.equal(['1000000000001_drop_users.ts', '1000000000002_index_email.ts']);
    expect(indexFiles()).to.have.length(1);

    const second = await lint();
    expect(second).to.deep.equal(first);
    expect(loads()).to.deep.equal(['1000000000001_drop_users.ts', '1000000000002_index_email.ts']);
  });

  it('loads neither the TypeScript compiler, nor the SQL parser, nor a migration when every file is a hit', async () => {
    const ts = path.join(migrationsDir, '1000000000001_typed.ts');
    writeFileSync(
      ts,
      "import type { MigrationBuilder } from 'node-pg-migrate';\n\nexport const up = (pgm: MigrationBuilder): void => {\n  pgm.dropTable(42);\n};\n\nexport const down = false;\n",
    );
    writeFileSync(path.join(migrationsDir, '1000000000002_rename.sql'), '-- Up Migration\nALTER TABLE a RENAME TO b;\n');
    const typed = await lint({ typeCheck: true });
    const syntax = await lint({ typeCheck: false });
    // A fresh process, as `gulp lint` and `gulp migrate` are: the same results, and what it loaded.
    const script = `
      const { lintMigrationsFolder } = require(${JSON.stringify(path.join(REPO_ROOT, 'tasks', 'lint', 'index.ts'))});
      const options = { migrationsDir: ${JSON.stringify(migrationsDir)}, projectDir: ${JSON.stringify(dir)}, cacheDir: ${JSON.stringify(cacheDir)} };
      (async () => {
        const typed = await lintMigrationsFolder({ ...options, typeCheck: true });
        const syntax = await lintMigrationsFolder({ ...options, typeCheck: false });
        const loaded = Object.keys(require.cache).filter((id) => /node_modules[\\\\/](typescript|libpg-query)[\\\\/]/.test(id));
        process.stdout.write(JSON.stringify({ typed, syntax, loaded }));
      })();
    `;
    const child = spawnSync(process.execPath, ['-r', path.join(REPO_ROOT, 'loader', 'register-ts.cjs'), '-e', script], { cwd: dir, encoding: 'utf8' });
    expect(child.stderr).to.equal('');
    const fresh = JSON.parse(child.stdout) as { typed: FileLintResult[]; syntax: FileLintResult[]; loaded: string[] };
    expect(brief(typed)).to.deep.equal([
      '1000000000001_typed.ts: 4:3 warning drop-table',
      '1000000000001_typed.ts: 4:17 error type-error',
      '1000000000002_rename.sql: 1:1 info missing-rollback',
      '1000000000002_rename.sql: 2:1 warning rename-table',
    ]);
    expect(fresh.typed).to.deep.equal(typed);
    expect(fresh.syntax).to.deep.equal(syntax);
    expect(fresh.loaded).to.deep.equal([]);
  });

  it('lints an edited file again, and only that one', async () => {
    const users = write('1000000000001_users.ts', "  pgm.createIndex('users', 'email');");
    write('1000000000002_accounts.ts', "  pgm.dropTable('accounts');");
    await lint();
    write('1000000000001_users.ts', "  pgm.noTransaction();\n  pgm.createIndex('users', 'email', { concurrently: true });");
    const results = await lint();
    expect(brief(results)).to.deep.equal(['1000000000002_accounts.ts: 5:3 warning drop-table']);
    expect(loads()).to.deep.equal(['1000000000001_users.ts', '1000000000002_accounts.ts', '1000000000001_users.ts']);
    expect(results[0]!.file).to.equal(users);
  });

  it('applies a new severity from .pgmt-lint.json at once without linting again; a typeCheck change lints again, and each mode keeps its own results', async () => {
    const file = path.join(migrationsDir, '1000000000001_typed.ts');
    writeFileSync(
      file,
      `import { appendFileSync } from 'node:fs';\nimport type { MigrationBuilder } from 'node-pg-migrate';\n\nappendFileSync(${JSON.stringify(marker)}, 'typed\\n');\n\nexport const up = (pgm: MigrationBuilder): void => {\n  pgm.dropTable(42);\n};\n\nexport const down = false;\n`,
    );
    const config = (content: object) => writeFileSync(path.join(dir, '.pgmt-lint.json'), JSON.stringify(content));
    const run = async () => brief(await lintMigrationsFolder({ migrationsDir, projectDir: dir, cacheDir }));

    expect(await run()).to.deep.equal(['1000000000001_typed.ts: 7:3 warning drop-table', '1000000000001_typed.ts: 7:17 error type-error']);
    expect(loads()).to.deep.equal(['typed']);
    config({ rules: { 'drop-table': 'error', 'type-error': 'off' } });
    expect(await run()).to.deep.equal(['1000000000001_typed.ts: 7:3 error drop-table']);
    expect(loads()).to.deep.equal(['typed']);
    config({ typeCheck: false });
    expect(await run()).to.deep.equal(['1000000000001_typed.ts: 7:3 warning drop-table']);
    expect(loads()).to.deep.equal(['typed', 'typed']);
    config({});
    expect(await run()).to.deep.equal(['1000000000001_typed.ts: 7:3 warning drop-table', '1000000000001_typed.ts: 7:17 error type-error']);
    expect(loads()).to.deep.equal(['typed', 'typed']);
    expect(indexFiles()).to.have.length(2);
  });

  it('lints type-checked files again when tsconfig.json or a global declaration file it includes changes', async () => {
    mkdirSync(path.join(dir, 'types'));
    const globals = path.join(dir, 'types', 'globals.d.ts');
    writeFileSync(globals, 'interface AuditSettings { table: number }\n');
    const tsconfig = (strict: boolean) =>
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict,
            module: 'esnext',
            moduleResolution: 'bundler',
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
          },
          include: ['types', 'migrations'],
        }),
      );
    tsconfig(true);
    write('1000000000001_audit.ts', "  const audit: AuditSettings = { table: 'audit' };\n  pgm.dropTable(audit.table);");
    const typeErrors = async () =>
      (await lint({ typeCheck: true }))[0]!.diagnostics
        .filter((diagnostic) => diagnostic.ruleId === 'type-error')
        .map((diagnostic) => `${diagnostic.line}:${diagnostic.column}`);
    expect(await typeErrors()).to.deep.equal(['5:34']);
    expect(await typeErrors()).to.deep.equal(['5:34']);
    expect(loads()).to.deep.equal(['1000000000001_audit.ts']);
    writeFileSync(globals, 'interface AuditSettings { table: string }\n');
    expect(await typeErrors()).to.deep.equal([]);
    expect(loads()).to.have.length(2);
    tsconfig(false);
    await lint({ typeCheck: true });
    expect(loads()).to.have.length(3);
  });

  it("lints the later TS/JS migrations again when an earlier migration's shorthands change, and nothing else", async () => {
    write('1000000000001_first.ts', "  pgm.dropTable('old');");
    write('1000000000002_shorthands.ts', '  return undefined;', { after: "export const shorthands = { code: { type: 'varchar(8)', notNull: true } };\n" });
    write('1000000000003_codes.ts', "  pgm.createTable('codes', { id: 'id', value: 'code' });");
    writeFileSync(path.join(migrationsDir, '1000000000004_rename.sql'), '-- Up Migration\nALTER TABLE codes RENAME TO labels;\n');
    expect(brief(await lint())).to.deep.equal([
      '1000000000001_first.ts: 5:3 warning drop-table',
      '1000000000003_codes.ts: 5:3 info prefer-text',
      '1000000000004_rename.sql: 1:1 info missing-rollback',
      '1000000000004_rename.sql: 2:1 warning rename-table',
    ]);
    expect(loads()).to.deep.equal(['1000000000001_first.ts', '1000000000002_shorthands.ts', '1000000000003_codes.ts']);

    write('1000000000002_shorthands.ts', '  return undefined;', { after: "export const shorthands = { code: { type: 'text', notNull: true } };\n" });
    expect(brief(await lint())).to.deep.equal([
      '1000000000001_first.ts: 5:3 warning drop-table',
      '1000000000004_rename.sql: 1:1 info missing-rollback',
      '1000000000004_rename.sql: 2:1 warning rename-table',
    ]);
    expect(loads().slice(3)).to.deep.equal(['1000000000002_shorthands.ts', '1000000000003_codes.ts']);

    // Neither editing a file that exports no shorthands nor adding a file invalidates the others. (The new file is
    // rendered with the shorthands before it: the file that exports them is loaded for them, not linted.)
    write('1000000000001_first.ts', "  pgm.dropTable('older');");
    write('1000000000005_last.ts', "  pgm.dropTable('last');");
    await lint();
    expect(loads().slice(5)).to.deep.equal(['1000000000001_first.ts', '1000000000005_last.ts', '1000000000002_shorthands.ts']);
  });

  it('lints again a file whose imported package changed version', async () => {
    const pkg = path.join(dir, 'node_modules', 'naming');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'index.js'), "exports.table = 'users';\n");
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'naming', version: '1.0.0' }));
    write('1000000000001_uses_package.ts', '  pgm.dropTable(table);', { imports: "import { table } from 'naming';" });
    await lint();
    await lint();
    expect(loads()).to.deep.equal(['1000000000001_uses_package.ts']);
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'naming', version: '1.0.1' }));
    await lint();
    expect(loads()).to.deep.equal(['1000000000001_uses_package.ts', '1000000000001_uses_package.ts']);
  });

  it('lints a file that imports another file every time (its findings depend on that file)', async () => {
    mkdirSync(path.join(dir, 'lib'));
    writeFileSync(path.join(dir, 'lib', 'audit.ts'), "export const dropAudit = (pgm: any, table: string) => pgm.dropColumns(table, ['audit']);\n");
    write('1000000000001_helper.ts', "  dropAudit(pgm, 'users');", { imports: "import { dropAudit } from '../lib/audit';" });
    write('1000000000002_plain.ts', "  pgm.dropTable('plain');");
    const rules = (results: FileLintResult[]) =>
      results.flatMap(({ file, diagnostics }) => diagnostics.map((diagnostic) => `${path.basename(file)}: ${diagnostic.line} ${diagnostic.ruleId}`));
    expect(rules(await lint())).to.deep.equal(['1000000000001_helper.ts: 5 drop-column', '1000000000002_plain.ts: 5 drop-table']);
    writeFileSync(path.join(dir, 'lib', 'audit.ts'), 'export const dropAudit = (pgm: any, table: string) => pgm.renameTable(table, `old_${table}`);\n');
    expect(rules(await lint())).to.deep.equal(['1000000000001_helper.ts: 5 rename-table', '1000000000002_plain.ts: 5 drop-table']);
    expect(loads()).to.deep.equal(['1000000000001_helper.ts', '1000000000002_plain.ts', '1000000000001_helper.ts']);
  });

  it('runs the folder-level rules on every run, cached files included, with their lint-ignore comments', async () => {
    write('1000000000001_a.ts', "  pgm.sql('SELECT 1');");
    write('1000000000002_b.ts', "  pgm.sql('SELECT 2');", { after: '// lint-ignore-file duplicate-timestamp -- b and d were split on purpose\n' });
    expect(brief(await lint())).to.deep.equal([]);
    write('1000000000001_c.ts', "  pgm.sql('SELECT 3');");
    write('1000000000002_d.ts', "  pgm.sql('SELECT 4');");
    expect(brief(await lint())).to.deep.equal([
      '1000000000001_a.ts: undefined:undefined error duplicate-timestamp',
      '1000000000001_c.ts: undefined:undefined error duplicate-timestamp',
      '1000000000002_d.ts: undefined:undefined error duplicate-timestamp',
    ]);
    expect(loads()).to.deep.equal(['1000000000001_a.ts', '1000000000002_b.ts', '1000000000001_c.ts', '1000000000002_d.ts']);
  });

  it('ignores a corrupt index or entry: those files are linted again, with the same results', async () => {
    write('1000000000001_a.ts', "  pgm.dropTable('a');");
    write('1000000000002_b.ts', "  pgm.dropTable('b');");
    const first = await lint();
    const [index] = indexFiles().map((name) => path.join(cacheDir, name));
    const document = JSON.parse(readFileSync(index!, 'utf8')) as { entries: Record<string, { findings: unknown }> };
    document.entries[path.join(migrationsDir, '1000000000002_b.ts')]!.findings = [{ ruleId: 42 }];
    writeFileSync(index!, JSON.stringify(document));
    expect(await lint()).to.deep.equal(first);
    expect(loads()).to.deep.equal(['1000000000001_a.ts', '1000000000002_b.ts', '1000000000002_b.ts']);

    writeFileSync(index!, readFileSync(index!, 'utf8').slice(0, 100));
    expect(await lint()).to.deep.equal(first);
    expect(loads().slice(3)).to.deep.equal(['1000000000001_a.ts', '1000000000002_b.ts']);
    // Written whole again: the next run is all hits.
    await lint();
    expect(loads()).to.have.length(5);
  });

  it('is not used with cache: false (the watcher): every file linted, nothing written', async () => {
    write('1000000000001_a.ts', "  pgm.dropTable('a');");
    await lint({ cache: false });
    await lint({ cache: false });
    expect(loads()).to.deep.equal(['1000000000001_a.ts', '1000000000001_a.ts']);
    expect(existsSync(cacheDir)).to.equal(false);
  });

  it('is safe to delete at any time', async () => {
    write('1000000000001_a.ts', "  pgm.dropTable('a');");
    const first = await lint();
    for (const file of lintCacheFiles({ dir: cacheDir, projectDir: dir, migrationsDir })) rmSync(file, { force: true });
    expect(indexFiles()).to.deep.equal([]);
    expect(await lint()).to.deep.equal(first);
    rmSync(cacheDir, { recursive: true });
    expect(await lint()).to.deep.equal(first);
    expect(loads()).to.have.length(3);
    expect(indexFiles()).to.have.length(1);
  });

  it("removes another folder's index once that folder is gone (removed test or bench projects)", async () => {
    write('1000000000001_a.ts', "  pgm.dropTable('a');");
    const other = path.join(dir, 'other');
    mkdirSync(path.join(other, 'migrations'), { recursive: true });
    writeFileSync(path.join(other, 'migrations', '1000000000001_b.sql'), '-- Up Migration\nSELECT 1;\n');
    await lint();
    await lintMigrationsFolder({ migrationsDir: path.join(other, 'migrations'), projectDir: other, typeCheck: false, cacheDir });
    expect(indexFiles()).to.have.length(2);
    rmSync(other, { recursive: true });
    await lint(); // all hits: nothing written, nothing removed
    expect(indexFiles()).to.have.length(2);
    write('1000000000002_b.ts', "  pgm.dropTable('b');");
    await lint();
    expect(indexFiles().map((name) => path.join(cacheDir, name))).to.deep.equal(
      lintCacheFiles({ dir: cacheDir, projectDir: dir, migrationsDir }).filter(existsSync),
    );
  });

  it('lives in node_modules/.cache of the nearest node_modules at or above the project', () => {
    mkdirSync(path.join(dir, 'node_modules'));
    mkdirSync(path.join(dir, 'apps', 'api'), { recursive: true });
    expect(defaultLintCacheDir(path.join(dir, 'apps', 'api'))).to.equal(path.join(dir, 'node_modules', '.cache', 'pg-migrate-tasks', 'lint'));
  });

  it('reads the packages a migration imports, and tells a file import apart', () => {
    expect(
      importedPackages(
        "import type { MigrationBuilder } from 'node-pg-migrate';\nimport { x } from '@scope/pkg/sub';\nconst fs = require('node:fs');\nconst p = require('path');\n",
      ),
    ).to.deep.equal(['@scope/pkg', 'node-pg-migrate']);
    expect(importedPackages("export { up } from './shared';\n")).to.equal(undefined);
    expect(importedPackages("const helper = require('../lib/helper');\n")).to.equal(undefined);
    expect(importedPackages("await import('./dynamic.js');\n")).to.equal(undefined);
  });
});
