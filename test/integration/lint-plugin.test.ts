import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import gulp, { series, src } from 'gulp';
import PluginError from 'plugin-error';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createLintTask } from '../../tasks/gulp/steps/lint';
import { lintMigrations, lintReport, type LintedFile } from '../../tasks/gulp/lint-plugin';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, runGulp, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

const GOOD = '1000000000001_create_alpha.ts';
const BAD = '1000000000002_broken.ts';

// Written at run time: a broken migration under test/ would fail the repository's own type-check.
const GOOD_SOURCE = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('alpha', { id: 'id', name: { type: 'text', notNull: true } });
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('alpha');
};
`;
const BAD_SOURCE = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('beta', { id: 'id' };
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('beta');
};
`;

/** The bad file's findings, as the report prints them: the compiler's syntax error, and jiti's (node-pg-migrate's loader). */
const badReport = (project: TestProject) => [
  `migrations/${BAD}`,
  `  4:39  error  node-pg-migrate cannot load ${BAD}: ParseError: Unexpected token, expected "," ${project.migrationsDir}/${BAD}:4:38  load-error`,
  '    hint: fix the syntax error at line 4:39 first; `gulp migrate` fails on this file until then',
  "  4:39  error  TS1005: ')' expected.  syntax-error",
  '    hint: fix the syntax here; node-pg-migrate cannot load the file until then',
];

/** Type-checks badly but loads and runs: blocks `gulp lint`, not `migrate` (its pre-flight checks syntax only). */
const TYPE_ERROR = '1000000000003_type_error.ts';
const TYPE_ERROR_SOURCE = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  const table: number = 'gamma';
  pgm.createTable(String(table), { id: 'id' });
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('gamma');
};
`;
/** A warning (destructive), which never blocks. */
const DROP = '1000000000004_drop_alpha.ts';
const DROP_SOURCE = `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.dropTable('alpha');
};

export const down = false;
`;

function projectWith(files: Record<string, string>): TestProject {
  const project = createTestProject();
  mkdirSync(project.migrationsDir);
  for (const [name, content] of Object.entries(files)) project.writeFile(`migrations/${name}`, content);
  return project;
}

const ESCAPE = '\u001B[';

describe('lint: the gulp plugin, gulp lint and the migrate pre-flight', function () {
  let clean: TestProject;
  let broken: TestProject;
  let nonBlocking: TestProject;
  before(() => {
    clean = projectWith({ [GOOD]: GOOD_SOURCE });
    broken = projectWith({ [GOOD]: GOOD_SOURCE, [BAD]: BAD_SOURCE });
    nonBlocking = projectWith({ [GOOD]: GOOD_SOURCE, [TYPE_ERROR]: TYPE_ERROR_SOURCE, [DROP]: DROP_SOURCE });
  });
  after(() => {
    clean?.remove();
    broken?.remove();
    nonBlocking?.remove();
  });

  describe('lintMigrations and lintReport through gulp.src', () => {
    // gulp reports a failed task as an 'error' event on its instance (gulp-cli listens to it and prints the error).
    const ignore = () => undefined;
    before(() => gulp.on('error', ignore));
    after(() => gulp.off('error', ignore));

    /** `src('migrations/*').pipe(lintMigrations()).pipe(lintReport(…))` in `project`; the files that came out. */
    async function lintStream(project: TestProject, report: Parameters<typeof lintReport>[0]): Promise<{ files: LintedFile[]; error?: unknown }> {
      const files: LintedFile[] = [];
      const sink = new Writable({ objectMode: true, write: (file: LintedFile, _encoding, done) => void (files.push(file), done()) });
      try {
        await pipeline(src('migrations/*', { cwd: project.dir }), lintMigrations(), lintReport(report), sink);
        return { files };
      } catch (error) {
        return { files, error };
      }
    }

    it('attaches each file its findings and passes every file on, in order', async () => {
      const { files, error } = await lintStream(broken, { failOn: 'never', logger: createRecordingLogger(), color: false });
      expect(error).to.equal(undefined);
      expect(files.map((file) => [file.relative, file.pgmtLint?.diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.ruleId}`)])).to.deep.equal([
        [GOOD, []],
        [BAD, ['4:39 error load-error', '4:39 error syntax-error']],
      ]);
      expect(files[1]!.contents!.toString()).to.equal(BAD_SOURCE);
    });

    it('prints the findings grouped by file with a summary, and fails the gulp task with a PluginError on an error', async () => {
      const logger = createRecordingLogger();
      const task = () =>
        src('migrations/*', { cwd: broken.dir })
          .pipe(lintMigrations())
          .pipe(lintReport({ failOn: 'error', logger, color: false }));
      const error = await new Promise<unknown>((resolve) => series(task)((failure?: unknown) => resolve(failure)));
      expect(logger.lines).to.deep.equal([...badReport(broken), '2 errors in 1 file'].map((line) => `info: ${line}`));
      expect(error).to.be.instanceOf(PluginError);
      expect((error as PluginError).plugin).to.equal('pg-migrate-tasks:lint');
      expect((error as PluginError).message).to.equal('lint found problems at or above "error": 2 errors in 1 file');
    });

    it('completes the task with failOn "never", and on a clean folder', async () => {
      for (const [project, failOn] of [
        [broken, 'never'],
        [clean, 'error'],
      ] as const) {
        const logger = createRecordingLogger();
        const task = () =>
          src('migrations/*', { cwd: project.dir })
            .pipe(lintMigrations())
            .pipe(lintReport({ failOn, logger, color: false }));
        expect(await new Promise<unknown>((resolve) => series(task)((failure?: unknown) => resolve(failure)))).to.equal(undefined);
        expect(logger.lines.at(-1)).to.equal(project === clean ? 'info: No problems in 1 migration' : 'info: 2 errors in 1 file');
      }
    });

    it('refuses streamed contents with a PluginError', async () => {
      const failure = await pipeline(
        src('migrations/*', { cwd: clean.dir, buffer: false }),
        lintMigrations(),
        new Writable({ objectMode: true, write: (_f, _e, done) => done() }),
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).to.be.instanceOf(PluginError);
      expect((failure as PluginError).message).to.equal('Streams are not supported: use src() without { buffer: false }');
    });
  });

  describe('gulp lint (the task)', () => {
    /** ensureEnv → lint, as `gulp lint <argv>` runs them; what was logged and written to stdout, and the error. */
    async function lint(project: TestProject, argv: string[] = [], env: Record<string, string> = {}, color?: boolean) {
      const logger = createRecordingLogger();
      const ctx = createContext({ logger, env, argv: ['lint', ...argv], cwd: project.dir });
      let stdout = '';
      let error: unknown;
      try {
        await createEnsureEnvTask(ctx, { connects: false, migrates: true })();
        await createLintTask(ctx, { write: (text) => void (stdout += text), ...(color === undefined ? {} : { color }) })();
      } catch (failure) {
        error = failure;
      }
      logger.lines.splice(0, logger.lines.length, ...logger.lines.filter((line) => !line.startsWith('debug:'))); // ensureEnv's
      return { logger, stdout, error };
    }

    it('prints the findings and fails with a TaskError naming how to suppress or configure a finding', async () => {
      const { logger, stdout, error } = await lint(broken);
      expect(logger.lines).to.deep.equal([...badReport(broken), '2 errors in 1 file'].map((line) => `info: ${line}`));
      expect(stdout).to.equal('');
      expect(error).to.be.instanceOf(TaskError);
      expect((error as TaskError).message).to.equal(
        'lint found 2 errors in 1 file\n' +
          '  hint: fix them; where a finding is intended, suppress it with a `-- lint-ignore rule-id` comment in the migration ' +
          '(`// lint-ignore rule-id` in .ts/.js), or set the rule\'s severity in .pgmt-lint.json: { "rules": { "rule-id": "warning" } }',
      );
    });

    it('type-checks TypeScript migrations and reports warnings without failing on them', async () => {
      const { logger, error } = await lint(nonBlocking);
      expect(logger.lines).to.deep.equal(
        [
          `migrations/${TYPE_ERROR}`,
          "  4:9  error  TS2322: Type 'string' is not assignable to type 'number'.  type-error",
          '    hint: fix the type error (`npx tsc --noEmit -p .` shows the same), or the migration may fail when it runs',
          `migrations/${DROP}`,
          '  4:3  warning  destructive: DROP TABLE "alpha" deletes the table and its data (in: DROP TABLE "alpha")  drop-table',
          '    hint: make sure nothing uses it any more and its data is backed up; then mark the intent with -- lint-ignore drop-table',
          '1 error, 1 warning in 2 files',
        ].map((line) => `info: ${line}`),
      );
      expect((error as TaskError).message.split('\n')[0]).to.equal('lint found 1 error in 1 file');
    });

    it('reports a mistake in .pgmt-lint.json as a file of its own', async () => {
      const configured = projectWith({ [DROP]: DROP_SOURCE });
      try {
        configured.writeFile('.pgmt-lint.json', '{ "rules": { "drop-tabel": "off" } }\n');
        const { logger, error } = await lint(configured);
        expect(logger.lines.slice(-4)).to.deep.equal(
          [
            '.pgmt-lint.json',
            '  1:14  error  unknown rule id "drop-tabel" in .pgmt-lint.json (did you mean "drop-table"?)  unknown-rule',
            '    hint: write "drop-table", or another id from the rule list (docs/lint.md, "Lint rules")',
            '1 error, 1 warning in 2 files',
          ].map((line) => `info: ${line}`),
        );
        expect((error as TaskError).message.split('\n')[0]).to.equal('lint found 1 error in 1 file');
      } finally {
        configured.remove();
      }
    });

    it('passes a clean folder with one summary line', async () => {
      const { logger, error } = await lint(clean);
      expect(error).to.equal(undefined);
      expect(logger.lines).to.deep.equal(['info: No problems in 1 migration']);
    });

    it('--format json writes one JSON document to stdout, nothing to the log, and still fails', async () => {
      const { logger, stdout, error } = await lint(broken, ['--format', 'json']);
      expect(logger.lines).to.deep.equal([]);
      expect(error).to.be.instanceOf(TaskError);
      expect(JSON.parse(stdout)).to.deep.equal({
        version: 1,
        files: [
          { file: `migrations/${GOOD}`, diagnostics: [] },
          {
            file: `migrations/${BAD}`,
            diagnostics: [
              {
                ruleId: 'load-error',
                severity: 'error',
                message: `node-pg-migrate cannot load ${BAD}: ParseError: Unexpected token, expected "," ${broken.migrationsDir}/${BAD}:4:38`,
                hint: 'fix the syntax error at line 4:39 first; `gulp migrate` fails on this file until then',
                line: 4,
                column: 39,
                source: 'pg-migrate-tasks',
              },
              {
                ruleId: 'syntax-error',
                severity: 'error',
                message: "TS1005: ')' expected.",
                hint: 'fix the syntax here; node-pg-migrate cannot load the file until then',
                line: 4,
                column: 39,
                source: 'pg-migrate-tasks',
              },
            ],
          },
        ],
        summary: { files: 2, filesWithProblems: 1, errors: 2, warnings: 0, infos: 0 },
      });
    });

    it('rejects an unknown --format', async () => {
      const { error } = await lint(clean, ['--format', 'xml']);
      expect((error as Error).message.split('\n')[0]).to.equal('--format must be one of: text, json (got "xml")');
    });

    it('writes no escape codes with NO_COLOR or when stdout is not a terminal, and colours with FORCE_COLOR', async () => {
      // Under mocha stdout may or may not be a terminal: the environment decides in the first two cases either way.
      expect((await lint(broken, [], { NO_COLOR: '1' })).logger.text()).not.to.include(ESCAPE);
      expect((await lint(broken, [], { NO_COLOR: '1', FORCE_COLOR: '0' })).logger.text()).not.to.include(ESCAPE);
      if (!process.stdout.isTTY) expect((await lint(broken)).logger.text()).not.to.include(ESCAPE);
      const forced = (await lint(broken, [], { FORCE_COLOR: '1' })).logger.text();
      expect(forced).to.include(`${ESCAPE}31merror${ESCAPE}39m`);
      // eslint-disable-next-line no-control-regex -- ANSI colour codes, which this test removes
      expect(forced.replace(/\u001B\[\d+m/g, '')).to.equal((await lint(broken, [], { NO_COLOR: '1' })).logger.text());
    });
  });

  describe('migrate refuses a folder that does not lint', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(async () => {
      await server?.stop();
    });

    /** ensureEnv → waitDb → migrate, as `gulp migrate <argv>` in `project`. */
    async function migrate(url: string, argv: string[] = [], project = broken): Promise<RecordingLogger> {
      const logger = createRecordingLogger();
      const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate', ...argv], cwd: project.dir });
      await createEnsureEnvTask(ctx, { migrates: true })();
      await createWaitDbTask(ctx)();
      await createMigrateTask(ctx)();
      return logger;
    }
    /** The error `migrate` ends with in the broken project. */
    async function migrateFailure(url: string, argv: string[] = []): Promise<{ error: TaskError }> {
      try {
        await migrate(url, argv);
      } catch (error) {
        expect(error).to.be.instanceOf(TaskError);
        return { error: error as TaskError };
      }
      throw new Error('expected migrate to fail');
    }

    it('reports the syntax error as a lint diagnostic and leaves the database untouched', async () => {
      const url = await server.freshDatabase('lint_refused');
      const { error } = await migrateFailure(url);
      expect(error.message).to.equal(
        [
          'lint found 2 errors in migrations/, so nothing was migrated:',
          ...badReport(broken).map((line) => `  ${line}`),
          '  hint: fix them (`gulp lint` lists every finding), or run with --no-lint',
        ].join('\n'),
      );
      expect(await tableNames(url)).to.deep.equal([]);
    });

    it('is not blocked by a type error (syntax only) nor by a warning, which it counts in one line', async () => {
      const url = await server.freshDatabase('lint_warnings');
      const logger = await migrate(url, [], nonBlocking);
      expect(logger.lines.filter((line) => line.startsWith('warn:'))).to.deep.equal(['warn: Lint: 1 warning in 1 file (not blocking; `gulp lint` shows them)']);
      expect(logger.lines.at(-1)).to.match(/^info: Applied 3 migrations in \d+ ms$/);
      expect(await tableNames(url)).to.deep.equal(['gamma', 'pgmigrations', 'pgmt_migration_checksums']);
    });

    it('with --no-lint runs node-pg-migrate, whose loader then fails on the file', async () => {
      const url = await server.freshDatabase('lint_skipped');
      const { error } = await migrateFailure(url, ['--no-lint']);
      expect(error.message).to.match(
        /^could not load the migrations in migrations\/: Error loading migration files: ParseError: Unexpected token, expected ","\s+\S+\/migrations\/1000000000002_broken\.ts:4:38\n {2}hint: fix the file named above/,
      );
      expect(error.message).not.to.include('lint found');
    });
  });

  describe('gulp lint end to end', () => {
    // A missing `lint` task fails this test (gulp: "Task never defined"); it is not a reason to skip it.
    it('prints the report and exits 1 on an error; --format json --silent prints only the document', async () => {
      const text = await runGulp(['lint'], { cwd: broken.dir });
      expect(text.code).to.equal(1);
      const lines = text.output.split('\n').map((line) => line.replace(/^\[\d\d:\d\d:\d\d\] ?/, ''));
      for (const line of [...badReport(broken), '2 errors in 1 file']) expect(lines).to.include(line);
      expect(text.output).to.include('lint found 2 errors in 1 file');
      expect(text.output).not.to.include(ESCAPE);

      const json = await runGulp(['lint', '--format', 'json', '--silent'], { cwd: broken.dir });
      expect(json.code).to.equal(1);
      expect(JSON.parse(json.output).summary).to.deep.equal({ files: 2, filesWithProblems: 1, errors: 2, warnings: 0, infos: 0 });

      const ok = await runGulp(['lint'], { cwd: clean.dir });
      expect(ok.code).to.equal(0);
      expect(ok.output).to.include('No problems in 1 migration');
    });
  });
});
