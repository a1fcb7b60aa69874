import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FILE_RULES, checkFiles, pgmCallLines, type FileRulesContext } from '../../tasks/lint/file-rules';
import type { Diagnostic } from '../../tasks/lint/types';

// Fixtures are written at run time: broken TypeScript under test/ would fail the repository's `tsc --noEmit`.
const GOOD = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('widgets', {
    id: 'id',
    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },
  });
  pgm.createIndex('widgets', 'created_at');
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('widgets');
};
`;
const GOOD_JS = `exports.up = (pgm) => {
  pgm.createTable('gadgets', { id: 'id' });
};

exports.down = false;
`;
const GOOD_SQL = '-- Up Migration\nCREATE TABLE things (id integer);\n-- Down Migration\nDROP TABLE things;\n';

/** What a rule finding looks like to a user: rule, where, what, and what to do. */
type Shown = Pick<Diagnostic, 'ruleId' | 'severity' | 'line' | 'column' | 'message' | 'hint'>;

describe('file-level lint rules (checkFiles)', () => {
  // One project folder for all cases, so that the type checker is built once (it is kept per project folder);
  // each case has its own migrations folder, since duplicate and order checks look at the whole folder.
  let projectDir: string;
  let cases = 0;
  before(() => {
    projectDir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-lint-files-'));
  });
  after(() => rmSync(projectDir, { recursive: true, force: true }));

  function folder(files: Record<string, string>): { migrationsDir: string; at: (name: string) => string } {
    cases += 1;
    const migrationsDir = path.join(projectDir, `case-${cases}`, 'migrations');
    mkdirSync(migrationsDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(migrationsDir, name), content);
    return { migrationsDir, at: (name) => path.join(migrationsDir, name) };
  }

  /** Lints the named files of the folder and returns what a user would see per file name. */
  async function lint(migrationsDir: string, names: string[], options: Partial<FileRulesContext> = {}): Promise<Record<string, Shown[]>> {
    const results = await checkFiles(
      names.map((name) => path.join(migrationsDir, name)),
      { migrationsDir, projectDir, newFiles: [], ...options },
    );
    const shown: Record<string, Shown[]> = {};
    for (const [file, diagnostics] of results) {
      for (const diagnostic of diagnostics) {
        expect(diagnostic.file).to.equal(file);
        expect(diagnostic.source).to.equal('pg-migrate-tasks');
      }
      shown[path.basename(file)] = diagnostics.map(({ ruleId, severity, line, column, message, hint }) => ({ ruleId, severity, line, column, message, hint }));
    }
    return shown;
  }

  it('lists its rules with their default severities', () => {
    expect(FILE_RULES.map((rule) => `${rule.id}:${rule.defaultSeverity}`)).to.deep.equal([
      'name-pattern:error',
      'duplicate-timestamp:error',
      'out-of-order:error',
      'syntax-error:error',
      'type-error:error',
      'load-error:error',
      'missing-up:error',
      'missing-rollback:info',
    ]);
  });

  it('finds nothing wrong with good TypeScript, CommonJS and SQL migrations', async () => {
    const { migrationsDir } = folder({ '1732500000000_widgets.ts': GOOD, '1732500001000_gadgets.js': GOOD_JS, '1732500002000_things.sql': GOOD_SQL });
    expect(await lint(migrationsDir, ['1732500000000_widgets.ts', '1732500001000_gadgets.js', '1732500002000_things.sql'])).to.deep.equal({
      '1732500000000_widgets.ts': [],
      '1732500001000_gadgets.js': [],
      '1732500002000_things.sql': [],
    });
  });

  it('name-pattern: a file without a timestamp, without a name, or with an extension node-pg-migrate does not load', async () => {
    const { migrationsDir } = folder({
      'add users.ts': GOOD,
      '1732500000000.ts': GOOD,
      '1732500001000_notes.md': '# notes\n',
      '.1732500002000_draft.ts': 'not even code',
    });
    expect(await lint(migrationsDir, ['add users.ts', '1732500000000.ts', '1732500001000_notes.md', '.1732500002000_draft.ts'])).to.deep.equal({
      'add users.ts': [
        {
          ruleId: 'name-pattern',
          severity: 'error',
          line: undefined,
          column: undefined,
          message:
            'add users.ts has no numeric timestamp prefix: node-pg-migrate cannot order it ("Cannot determine numeric prefix"), and `gulp migrate` fails while it is in the folder',
          hint: 'rename it to <timestamp>_add_users.ts (`gulp migrate:create --name add_users` makes one), or move it out of the migrations folder',
        },
      ],
      '1732500000000.ts': [
        {
          ruleId: 'name-pattern',
          severity: 'error',
          line: undefined,
          column: undefined,
          message: "1732500000000.ts has no name after its timestamp: node-pg-migrate's pattern is <timestamp>_<name>.ts",
          hint: 'rename it to 1732500000000_<what_it_does>.ts',
        },
      ],
      '1732500001000_notes.md': [
        {
          ruleId: 'name-pattern',
          severity: 'error',
          line: undefined,
          column: undefined,
          message: '1732500001000_notes.md does not end in an extension node-pg-migrate loads (.ts, .js, .cjs, .mjs, .cts, .mts, .sql)',
          hint: 'rename it to 1732500001000_notes.ts (or .js, .sql) if it is a migration; otherwise move it out of the migrations folder',
        },
        {
          ruleId: 'load-error',
          severity: 'error',
          line: undefined,
          column: undefined,
          message:
            'node-pg-migrate cannot load 1732500001000_notes.md: it loads only .ts, .js, .cjs, .mjs, .cts, .mts and .sql files ("Unknown file extension")',
          hint: 'move 1732500001000_notes.md out of the migrations folder (`gulp migrate` fails while it is there)',
        },
      ],
      // node-pg-migrate skips files starting with ".", and so do the rules.
      '.1732500002000_draft.ts': [],
    });
  });

  it('duplicate-timestamp: reported on each file that shares a timestamp, naming the others, also when they are not being linted', async () => {
    const { migrationsDir } = folder({ '1732500000000_a.ts': GOOD, '1732500000000_b.sql': GOOD_SQL, '1732500001000_c.ts': GOOD });
    const duplicate = (file: string, other: string): Shown => ({
      ruleId: 'duplicate-timestamp',
      severity: 'error',
      line: undefined,
      column: undefined,
      message: `${file} has the same timestamp as ${other}: node-pg-migrate then orders them by name, not by when they were written`,
      hint: 'rename the newer one with a later, unused timestamp (`gulp migrate:create` picks one for a new file)',
    });
    expect(await lint(migrationsDir, ['1732500000000_a.ts', '1732500000000_b.sql', '1732500001000_c.ts'])).to.deep.equal({
      '1732500000000_a.ts': [duplicate('1732500000000_a.ts', '1732500000000_b.sql')],
      '1732500000000_b.sql': [duplicate('1732500000000_b.sql', '1732500000000_a.ts')],
      '1732500001000_c.ts': [],
    });
    expect(await lint(migrationsDir, ['1732500000000_b.sql'])).to.deep.equal({
      '1732500000000_b.sql': [duplicate('1732500000000_b.sql', '1732500000000_a.ts')],
    });
  });

  describe('out-of-order', () => {
    const late: Shown = {
      ruleId: 'out-of-order',
      severity: 'error',
      line: undefined,
      column: undefined,
      message:
        '1732500001000_late.ts is new but older than 1732500002000_b.ts, the newest existing migration: on a database where that one is applied, ' +
        'node-pg-migrate refuses to run ("Not run migration 1732500001000_late is preceding already run migration 1732500002000_b")',
      hint: 'rename it with a timestamp after 1732500002000 (`gulp migrate:create` picks one for a new file)',
    };
    const files = { '1732500000000_a.ts': GOOD, '1732500002000_b.ts': GOOD, '1732500001000_late.ts': GOOD, '1732500003000_next.ts': GOOD };

    it('reports a new file (the watcher says which) older than the newest existing one', async () => {
      const { migrationsDir, at } = folder(files);
      expect(
        await lint(migrationsDir, ['1732500001000_late.ts', '1732500003000_next.ts'], { newFiles: [at('1732500001000_late.ts'), at('1732500003000_next.ts')] }),
      ).to.deep.equal({
        '1732500001000_late.ts': [late],
        '1732500003000_next.ts': [],
      });
      // Not new: it has been there, ordering is node-pg-migrate's business.
      expect(await lint(migrationsDir, ['1732500001000_late.ts'], { newFiles: [] })).to.deep.equal({ '1732500001000_late.ts': [] });
    });

    it('takes the files git does not track yet as new when not told, and skips the rule outside a git work tree', async () => {
      const { migrationsDir } = folder(files);
      const project = path.dirname(migrationsDir);
      expect(await lint(migrationsDir, ['1732500001000_late.ts'], { newFiles: undefined, projectDir: project })).to.deep.equal({ '1732500001000_late.ts': [] });
      const git = (...args: string[]) => execFileSync('git', args, { cwd: project, stdio: 'ignore' });
      git('init', '--quiet');
      git('add', 'migrations/1732500000000_a.ts', 'migrations/1732500002000_b.ts');
      expect(await lint(migrationsDir, ['1732500001000_late.ts', '1732500003000_next.ts'], { newFiles: undefined, projectDir: project })).to.deep.equal({
        '1732500001000_late.ts': [late],
        '1732500003000_next.ts': [],
      });
    });
  });

  it('syntax-error: the compiler diagnostic at its line:col, with the loader failure (the file cannot be loaded)', async () => {
    const broken = GOOD.replace("pgm.createIndex('widgets', 'created_at');", "pgm.createIndex('widgets' 'created_at');");
    const { migrationsDir } = folder({ '1732500000000_broken.ts': broken });
    const syntax: Shown = {
      ruleId: 'syntax-error',
      severity: 'error',
      line: 8,
      column: 29,
      message: "TS1005: ',' expected.",
      hint: 'fix the syntax here; node-pg-migrate cannot load the file until then',
    };
    for (const typeCheck of [true, false]) {
      const { '1732500000000_broken.ts': found } = await lint(migrationsDir, ['1732500000000_broken.ts'], { typeCheck });
      expect(found).to.deep.equal([
        syntax,
        {
          ruleId: 'load-error',
          severity: 'error',
          line: 8,
          column: 29,
          message: `node-pg-migrate cannot load 1732500000000_broken.ts: ParseError: Unexpected token, expected "," ${path.join(migrationsDir, '1732500000000_broken.ts')}:8:28`,
          hint: 'fix the syntax error at line 8:29 first; `gulp migrate` fails on this file until then',
        },
      ]);
    }
  });

  it('type-error: the compiler diagnostic at its line:col, only when type-checking', async () => {
    const wrong = GOOD.replace("pgm.createIndex('widgets', 'created_at');", "pgm.createIndex(123, 'created_at');");
    const { migrationsDir } = folder({ '1732500000000_wrong.ts': wrong });
    expect(await lint(migrationsDir, ['1732500000000_wrong.ts'])).to.deep.equal({
      '1732500000000_wrong.ts': [
        {
          ruleId: 'type-error',
          severity: 'error',
          line: 8,
          column: 19,
          message: "TS2345: Argument of type 'number' is not assignable to parameter of type 'Name'.",
          hint: 'fix the type error (`npx tsc --noEmit -p .` shows the same), or the migration may fail when it runs',
        },
      ],
    });
    expect(await lint(migrationsDir, ['1732500000000_wrong.ts'], { typeCheck: false })).to.deep.equal({ '1732500000000_wrong.ts': [] });
  });

  it("type-error: uses the project's tsconfig.json when it has one", async () => {
    const configured = mkdtempSync(path.join(projectDir, 'configured-'));
    try {
      writeFileSync(
        path.join(configured, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noUnusedLocals: true, module: 'esnext', moduleResolution: 'bundler' } }),
      );
      const migrationsDir = path.join(configured, 'migrations');
      mkdirSync(migrationsDir);
      // strict (from the project's tsconfig) makes the untyped parameter an error; an unused name is style, never reported
      // (an untouched migrate:create template has an unused `pgm` and must not block migrate).
      const source = GOOD.replace('export const down', 'const unused = 1;\n\nexport const helper = (x) => x;\n\nexport const down');
      writeFileSync(path.join(migrationsDir, '1732500000000_unused.ts'), source);
      expect(await lint(migrationsDir, ['1732500000000_unused.ts'], { projectDir: configured })).to.deep.equal({
        '1732500000000_unused.ts': [
          {
            ruleId: 'type-error',
            severity: 'error',
            line: 13,
            column: 24,
            message: "TS7006: Parameter 'x' implicitly has an 'any' type.",
            hint: 'fix the type error (`npx tsc --noEmit -p .` shows the same), or the migration may fail when it runs',
          },
        ],
      });
    } finally {
      rmSync(configured, { recursive: true, force: true });
    }
  });

  it('load-error: a module that throws when imported, with the line of the throw', async () => {
    const throwing = GOOD.replace('export const up', "if (process.env.PGMT_NEVER_SET === undefined) throw new Error('boom at import');\n\nexport const up");
    const { migrationsDir } = folder({
      '1732500000000_throws.ts': throwing,
      '1732500001000_import.js': "const helper = require('./no-such-helper');\nexports.up = (pgm) => helper(pgm);\n",
    });
    expect(await lint(migrationsDir, ['1732500000000_throws.ts', '1732500001000_import.js'])).to.deep.equal({
      '1732500000000_throws.ts': [
        {
          ruleId: 'load-error',
          severity: 'error',
          line: 3,
          column: undefined,
          message: 'node-pg-migrate cannot load 1732500000000_throws.ts: boom at import',
          hint: 'fix what fails when the module is imported (an import, or top-level code that throws); `gulp migrate` fails on this file until then',
        },
      ],
      '1732500001000_import.js': [
        {
          ruleId: 'load-error',
          severity: 'error',
          line: 1,
          column: undefined,
          message: `node-pg-migrate cannot load 1732500001000_import.js: Cannot find module './no-such-helper' Require stack: - ${path.join(migrationsDir, '1732500001000_import.js')}`,
          hint: 'fix what fails when the module is imported (an import, or top-level code that throws); `gulp migrate` fails on this file until then',
        },
      ],
    });
  });

  it('missing-up: a TS or CommonJS migration without an up export; other ways of exporting up are recognised', async () => {
    const { migrationsDir } = folder({
      '1732500000000_down_only.ts': GOOD.replace('export const up', 'const up'),
      '1732500001000_down_only.js': 'exports.down = (pgm) => pgm.dropTable("x");\n',
      '1732500002000_renamed.ts':
        "import type { MigrationBuilder } from 'node-pg-migrate';\nfunction run(pgm: MigrationBuilder): void {\n  pgm.sql('SELECT 1');\n}\nexport { run as up };\n",
      '1732500003000_object.cjs': "module.exports = { up(pgm) { pgm.sql('SELECT 1'); }, down: false };\n",
      '1732500004000_built.js': "const build = () => ({ up: (pgm) => pgm.sql('SELECT 1') });\nmodule.exports = build();\n",
    });
    const names = [
      '1732500000000_down_only.ts',
      '1732500001000_down_only.js',
      '1732500002000_renamed.ts',
      '1732500003000_object.cjs',
      '1732500004000_built.js',
    ];
    const found = await lint(migrationsDir, names);
    expect(found).to.deep.equal({
      '1732500000000_down_only.ts': [
        {
          ruleId: 'missing-up',
          severity: 'error',
          line: undefined,
          column: undefined,
          message: `1732500000000_down_only.ts exports no \`up\` function: node-pg-migrate has nothing to run ("Is the migration 1732500000000_down_only exporting a 'up' function?")`,
          hint: 'add `export const up = (pgm: MigrationBuilder): void => { … }`',
        },
      ],
      '1732500001000_down_only.js': [
        {
          ruleId: 'missing-up',
          severity: 'error',
          line: undefined,
          column: undefined,
          message: `1732500001000_down_only.js exports no \`up\` function: node-pg-migrate has nothing to run ("Is the migration 1732500001000_down_only exporting a 'up' function?")`,
          hint: 'add `exports.up = (pgm) => { … }`',
        },
      ],
      '1732500002000_renamed.ts': [],
      '1732500003000_object.cjs': [],
      '1732500004000_built.js': [],
    });
  });

  it('missing-up: a TypeScript declaration file (.d.ts) in the folder is named as such, with where it belongs', async () => {
    const { migrationsDir } = folder({ '1732500000000_types.d.ts': 'export declare const x: number;\n' });
    const found = await lint(migrationsDir, ['1732500000000_types.d.ts']);
    expect(found['1732500000000_types.d.ts']!.filter((diagnostic) => diagnostic.ruleId === 'missing-up')).to.deep.equal([
      {
        ruleId: 'missing-up',
        severity: 'error',
        line: undefined,
        column: undefined,
        message: `1732500000000_types.d.ts is a TypeScript declaration file (types only), not a migration, but node-pg-migrate loads it as one and fails ("exporting a 'up' function?")`,
        hint: 'move 1732500000000_types.d.ts out of the migrations folder (next to the code that uses its types)',
      },
    ]);
  });

  it('re-checks a file after it is edited (as the watcher does): a fix clears its findings', async () => {
    const { migrationsDir, at } = folder({ '1732500000000_edited.ts': GOOD.replace("pgm.dropTable('widgets');", "pgm.dropTable('widgets'") });
    const rules = async () => (await lint(migrationsDir, ['1732500000000_edited.ts']))['1732500000000_edited.ts']!.map((diagnostic) => diagnostic.ruleId);
    expect(await rules()).to.deep.equal(['syntax-error', 'load-error']);
    writeFileSync(at('1732500000000_edited.ts'), GOOD.replace("pgm.dropTable('widgets');", 'pgm.dropTable(42);'));
    expect(await rules()).to.deep.equal(['type-error']);
    writeFileSync(at('1732500000000_edited.ts'), GOOD.replace("pgm.dropTable('widgets');", "throw new Error('not yet');"));
    expect(await rules()).to.deep.equal([]); // throws only when run, not when loaded
    writeFileSync(at('1732500000000_edited.ts'), `throw new Error('at import');\n${GOOD}`);
    expect(await rules()).to.deep.equal(['load-error']);
    writeFileSync(at('1732500000000_edited.ts'), GOOD);
    expect(await rules()).to.deep.equal([]);
  });

  it('leaves .sql files to the SQL rules: only name, duplicate, order and rollback rules apply', async () => {
    const { migrationsDir } = folder({ '1732500000000_odd.sql': 'this is not SQL at all (\n-- Down Migration\n' });
    expect(await lint(migrationsDir, ['1732500000000_odd.sql'])).to.deep.equal({ '1732500000000_odd.sql': [] });
  });

  it('notes a .sql migration without any rollback (info), and not once down/ or a .down.sql gives it one', async () => {
    const { migrationsDir } = folder({ '1732500000000_up_only.sql': 'CREATE TABLE t (id int);\n' });
    const found = await lint(migrationsDir, ['1732500000000_up_only.sql']);
    expect(found['1732500000000_up_only.sql']!.map((diagnostic) => `${diagnostic.severity} ${diagnostic.ruleId}`)).to.deep.equal(['info missing-rollback']);
    mkdirSync(path.join(migrationsDir, 'down'));
    writeFileSync(path.join(migrationsDir, 'down', '1732500000000_up_only.sql'), 'DROP TABLE t;\n');
    expect(await lint(migrationsDir, ['1732500000000_up_only.sql'])).to.deep.equal({ '1732500000000_up_only.sql': [] });
  });
});

describe('pgmCallLines', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-pgm-lines-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };

  it('gives the line of each pgm call in up that adds SQL, in source order, whatever the parameter is called', () => {
    expect(pgmCallLines(write('1_good.ts', GOOD))).to.deep.equal([4, 8]); // pgm.func (line 6) adds no statement; down is not read
    const file = write(
      '2_mixed.js',
      [
        'exports.down = (pgm) => pgm.dropTable("a");', // 1
        'exports.up = async function (b) {', //           2
        '  b.noTransaction();', //                         3
        '  b.createIndex("a", "x", { concurrently: true });', // 4
        '  for (const t of ["c", "d"]) {', //              5
        '    b.sql(`ANALYZE ${t}`);', //                  6
        '  }', //                                          7
        '  helper(b);', //                                 8
        '};', //                                           9
        'function helper(pgm) { pgm.sql("SELECT 1"); }', // 10
      ].join('\n'),
    );
    expect(pgmCallLines(file)).to.deep.equal([4, 6]);
  });

  it('is empty when up is not a function written in the file, or the file cannot be read', () => {
    expect(pgmCallLines(write('3_reexport.ts', "export { up } from './elsewhere';\n"))).to.deep.equal([]);
    expect(pgmCallLines(path.join(dir, '4_missing.ts'))).to.deep.equal([]);
  });
});
