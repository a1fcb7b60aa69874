import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createStatusTask, type StatusDocument } from '../../tasks/gulp/steps/status';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

const ALPHA = '1800000000000_create_alpha';
const LATE = '1800000001000_late_arrival';
const BETA = '1800000002000_create_beta';
const GAMMA = '1800000003000_create_gamma';
const DELTA = '1800000004000_create_delta';
const EPSILON = '1800000005000_create_epsilon';
const ZETA = '1800000006000_create_zeta';
const FIRST_FOUR = [`${ALPHA}.sql`, `${BETA}.sql`, `${GAMMA}.sql`, `${DELTA}.ts`];
const SQL_MIGRATION = (table: string) => `-- Up Migration\nCREATE TABLE ${table} (id integer);\n-- Down Migration\nDROP TABLE ${table};\n`;
const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

interface StatusRun {
  logger: RecordingLogger;
  /** Every code the task passed to ctx.setExitCode. */
  exitCodes: number[];
  /** What --json wrote (the task's stdout). */
  written: string;
}

describe('migrate:status against a real server', function () {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  function context(url: string, argv: string[], project: TestProject, exitCodes: number[] = []) {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv, cwd: project.dir, setExitCode: (code) => exitCodes.push(code) });
    return { logger, ctx };
  }
  /** ensureEnv → waitDb → migrate:status, as `gulp migrate:status <argv>` wires it. */
  async function status(url: string, project: TestProject, argv: string[] = []): Promise<StatusRun> {
    const exitCodes: number[] = [];
    const { logger, ctx } = context(url, ['migrate:status', ...argv], project, exitCodes);
    let written = '';
    await createEnsureEnvTask(ctx, { migrates: true })();
    await createWaitDbTask(ctx)();
    await createStatusTask(ctx, { write: (text) => (written += text) })();
    return { logger, exitCodes, written };
  }
  async function statusFailure(url: string, project: TestProject, argv: string[]): Promise<TaskError> {
    try {
      await status(url, project, argv);
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    throw new Error('expected migrate:status to fail');
  }
  async function migrate(url: string, project: TestProject, argv: string[] = []): Promise<void> {
    const { ctx } = context(url, ['migrate', ...argv], project);
    await createEnsureEnvTask(ctx, { migrates: true })();
    await createMigrateTask(ctx)();
  }
  /** node-pg-migrate's own runner, as its CLI would run it: no checksums recorded. */
  async function runnerDirectly(url: string, project: TestProject, direction: 'up' | 'down'): Promise<void> {
    const { runner } = await import('node-pg-migrate');
    await runner({
      databaseUrl: url,
      dir: project.migrationsDir,
      migrationsTable: 'pgmigrations',
      direction,
      count: direction === 'up' ? Infinity : 1,
      singleTransaction: true,
      checkOrder: true,
      logger: SILENT,
    });
  }
  /** What migrate:status printed (not ensureEnv's debug line or waitDb's "Database ready"), with run times as <time>. */
  /** Each printed line, as `level: line`; the table comes as one multi-line message (one timestamp in gulp's log). */
  const printed = (run: StatusRun) =>
    run.logger.lines
      .filter((line) => !line.startsWith('debug:') && !line.includes('Database ready'))
      .flatMap((message) => {
        const level = message.slice(0, message.indexOf(': ') + 2);
        return message
          .slice(level.length)
          .split('\n')
          .map((line) => `${level}${line}`);
      })
      .map((line) => line.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, '<time>'));
  const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  const recordedChecksums = async (url: string) =>
    Object.fromEntries(
      (await query<{ name: string; sha256: string }>(url, 'SELECT name, sha256 FROM pgmt_migration_checksums ORDER BY name')).map((row) => [
        row.name,
        row.sha256,
      ]),
    );

  describe('a database that drifted from its folder', () => {
    let project: TestProject;
    let url: string;
    const original: Record<string, string> = {};
    before(async () => {
      project = createTestProject();
      url = await server.freshDatabase('drifted');
      project.addMigrations('status', FIRST_FOUR);
      await migrate(url, project);
      for (const name of FIRST_FOUR) original[path.parse(name).name] = sha256(path.join(project.migrationsDir, name));
      // Applied by node-pg-migrate itself (its CLI, or before these tasks recorded checksums).
      project.addMigrations('status', [`${EPSILON}.sql`]);
      await runnerDirectly(url, project, 'up');
      // After the fact: one applied file edited, one deleted, one added older than the applied ones, one new one,
      // and entries node-pg-migrate does not take as migrations.
      project.writeFile(`migrations/${BETA}.sql`, `${readFileSync(path.join(project.migrationsDir, `${BETA}.sql`), 'utf8')}-- edited after it was applied\n`);
      rmSync(path.join(project.migrationsDir, `${GAMMA}.sql`));
      project.writeFile(`migrations/${LATE}.sql`, SQL_MIGRATION('late'));
      project.writeFile(`migrations/${ZETA}.sql`, SQL_MIGRATION('zeta'));
      project.writeFile('migrations/add_table.ts', 'export const up = () => undefined;\n');
      project.writeFile('migrations/.gitkeep', '');
      mkdirSync(path.join(project.migrationsDir, 'drafts'));
    });
    after(() => project?.remove());

    it('prints one row per migration in order, the files that are not migrations, a summary and what to do', async () => {
      const run = await status(url, project);
      expect(printed(run)).to.deep.equal([
        `info: Migrations in ${project.migrationsDir} (ledger public.pgmigrations):`,
        `info:   applied       ${ALPHA}    <time>`,
        `info:   out of order  ${LATE}    older than ${EPSILON}, which is applied`,
        `info:   edited        ${BETA}     <time>  file changed since it was applied`,
        `info:   missing       ${GAMMA}    <time>  applied, but the file is not in the folder`,
        `info:   applied       ${DELTA}    <time>`,
        `info:   no checksum   ${EPSILON}  <time>  applied without a recorded checksum`,
        `info:   pending       ${ZETA}`,
        'info: Not migrations (node-pg-migrate skips these, or fails on them):',
        'info:   .gitkeep: starts with ".": skipped',
        'info:   add_table.ts: not a migration (no numeric timestamp prefix): skipped',
        'info:   drafts/: a folder: node-pg-migrate reads only the files directly in the migrations folder',
        'info: 2 applied, 1 pending, 1 out of order, 1 missing, 1 edited, 1 no checksum',
        'info: pending: `gulp migrate` applies them',
        'info: out of order: node-pg-migrate refuses a migration older than an applied one; give it a newer timestamp prefix than every applied migration (rename the file)',
        'info: missing: applied, but the file is gone; restore it from version control (git log -- migrations/)',
        'info: edited: databases migrated earlier do not have the change; restore the applied version and put the change in a new migration ' +
          `(\`gulp migrate:create --name …\`); or accept the edit on purpose: \`gulp migrate:status --accept --name ${BETA}\``,
        'info: no checksum: applied outside these tasks, before they recorded checksums, or by a role that could not write them (the run warned); once you checked them: `gulp migrate:status --accept`',
      ]);
      expect(run.exitCodes).to.deep.equal([6]);
      expect(run.written).to.equal('');
    });

    it('--json writes one document with every migration, its checksums and the exit code, and no table', async () => {
      const run = await status(url, project, ['--json']);
      expect(printed(run)).to.deep.equal([]);
      expect(run.exitCodes).to.deep.equal([6]);
      const document = JSON.parse(run.written) as StatusDocument;
      const now = Date.now();
      for (const migration of document.migrations.filter((row) => row.runOn !== null)) {
        expect(migration.runOn).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(now - Date.parse(migration.runOn!)).to.be.within(0, 10 * 60_000, `${migration.name} was applied minutes ago, in UTC`);
      }
      const stable = { ...document, migrations: document.migrations.map((row) => ({ ...row, runOn: row.runOn && '<time>' })) };
      const current = (file: string) => sha256(path.join(project.migrationsDir, file));
      expect(stable).to.deep.equal({
        version: 1,
        folder: project.migrationsDir,
        ledger: 'public.pgmigrations',
        migrations: [
          { name: ALPHA, file: `${ALPHA}.sql`, state: 'applied', runOn: '<time>', checksum: { recorded: original[ALPHA], current: original[ALPHA] } },
          { name: LATE, file: `${LATE}.sql`, state: 'out of order', runOn: null, checksum: { recorded: null, current: current(`${LATE}.sql`) } },
          { name: BETA, file: `${BETA}.sql`, state: 'edited', runOn: '<time>', checksum: { recorded: original[BETA], current: current(`${BETA}.sql`) } },
          { name: GAMMA, file: null, state: 'missing', runOn: '<time>', checksum: { recorded: original[GAMMA], current: null } },
          { name: DELTA, file: `${DELTA}.ts`, state: 'applied', runOn: '<time>', checksum: { recorded: original[DELTA], current: original[DELTA] } },
          { name: EPSILON, file: `${EPSILON}.sql`, state: 'no checksum', runOn: '<time>', checksum: { recorded: null, current: current(`${EPSILON}.sql`) } },
          { name: ZETA, file: `${ZETA}.sql`, state: 'pending', runOn: null, checksum: { recorded: null, current: current(`${ZETA}.sql`) } },
        ],
        ignoredFiles: [
          { file: '.gitkeep', reason: 'starts with ".": skipped', blocksMigrate: false },
          { file: 'add_table.ts', reason: 'not a migration (no numeric timestamp prefix): skipped', blocksMigrate: false },
          { file: 'drafts/', reason: 'a folder: node-pg-migrate reads only the files directly in the migrations folder', blocksMigrate: false },
        ],
        accepted: [],
        summary: { applied: 2, pending: 1, outOfOrder: 1, missing: 1, edited: 1, noChecksum: 1, ignoredFiles: 3 },
        exitCode: 6,
      });
      expect(original[BETA]).to.not.equal(current(`${BETA}.sql`));
    });

    it('--accept records the checksums that are missing, but not an edited file, and says how to accept that one', async () => {
      const run = await status(url, project, ['--accept']);
      expect(printed(run).slice(0, 2)).to.deep.equal([
        'info: Recorded the checksums of 1 applied migration that had none',
        `info: Not accepted: 1 edited migration (${BETA}), changed after it was applied. If the change is deliberate, accept it by name: ` +
          `\`gulp migrate:status --accept --name ${BETA}\``,
      ]);
      expect(printed(run)).to.include(`info:   applied       ${EPSILON}  <time>`);
      expect(printed(run)).to.include('info: 3 applied, 1 pending, 1 out of order, 1 missing, 1 edited');
      expect(run.exitCodes).to.deep.equal([6]);
      expect(await recordedChecksums(url)).to.deep.equal({ ...original, [EPSILON]: sha256(path.join(project.migrationsDir, `${EPSILON}.sql`)) });

      const again = await status(url, project, ['--accept', '--json']);
      expect(printed(again)[0]).to.equal('info: Nothing to accept: no applied migration lacks a checksum');
      expect((JSON.parse(again.written) as StatusDocument).accepted).to.deep.equal([]);
    });

    it('--accept --name accepts an edited migration on purpose; a pending or missing one is refused with the reason', async () => {
      const pending = await statusFailure(url, project, ['--accept', '--name', ZETA]);
      expect(pending.message).to.equal(
        `cannot accept ${ZETA}: it is not applied (pending)\n  hint: checksums are recorded when \`gulp migrate\` applies a migration; nothing to accept`,
      );
      const missing = await statusFailure(url, project, ['--accept', '--name', GAMMA]);
      expect(missing.message).to.equal(
        `cannot accept ${GAMMA}: it is applied, but its file is gone from migrations/\n` +
          '  hint: restore the file from version control (git log -- migrations/), then run `gulp migrate:status` again',
      );
      const unknown = await statusFailure(url, project, ['--accept', '--name', 'create_nothing']);
      expect(unknown.message).to.equal(
        'cannot accept create_nothing: there is no migration of that name in migrations/ or in the ledger\n' +
          '  hint: `gulp migrate:status` lists every migration with its name; pass one of those to --name',
      );

      // The short name migrate:create was given works too, when it is unique.
      const run = await status(url, project, ['--accept', '--name', 'create_beta', '--json']);
      expect(printed(run)).to.deep.equal([
        `info: Recorded the checksum of ${BETA} (edited after it was applied: its current content is now the accepted version)`,
      ]);
      const document = JSON.parse(run.written) as StatusDocument;
      expect(document.accepted).to.deep.equal([BETA]);
      expect(document.migrations.find((row) => row.name === BETA)!.state).to.equal('applied');
      expect(document.summary).to.deep.equal({ applied: 4, pending: 1, outOfOrder: 1, missing: 1, edited: 0, noChecksum: 0, ignoredFiles: 3 });
      expect(run.exitCodes).to.deep.equal([6]);
      expect((await recordedChecksums(url))[BETA]).to.equal(sha256(path.join(project.migrationsDir, `${BETA}.sql`)));
    });

    it('refuses --name without --accept', async () => {
      const error = await statusFailure(url, project, ['--name', BETA]);
      expect(error.message).to.equal(
        '--name works with --accept only here (to accept the checksum of that one migration)\n' +
          '  hint: run `gulp migrate:status` to see every migration, or `gulp migrate:status --accept --name NAME` to accept one',
      );
    });
  });

  describe('a database in step with its folder', () => {
    let project: TestProject;
    let url: string;
    before(async () => {
      project = createTestProject();
      project.addMigrations('status', FIRST_FOUR);
      url = await server.freshDatabase('clean');
      await migrate(url, project);
    });
    after(() => project?.remove());

    it('is clean: every migration applied, exit status 0', async () => {
      const run = await status(url, project);
      expect(printed(run).slice(1)).to.deep.equal([
        `info:   applied       ${ALPHA}  <time>`,
        `info:   applied       ${BETA}   <time>`,
        `info:   applied       ${GAMMA}  <time>`,
        `info:   applied       ${DELTA}  <time>`,
        'info: 4 applied',
      ]);
      expect(run.exitCodes).to.deep.equal([0]);
    });

    it('does not call a Windows checkout (CRLF line ends) an edit', async () => {
      const file = path.join(project.migrationsDir, `${ALPHA}.sql`);
      const lf = readFileSync(file, 'utf8');
      writeFileSync(file, lf.replaceAll('\n', '\r\n'));
      try {
        const run = await status(url, project);
        expect(printed(run).at(-1)).to.equal('info: 4 applied');
        expect(run.exitCodes).to.deep.equal([0]);
      } finally {
        writeFileSync(file, lf);
      }
    });

    it('forgets the checksum of a migration rolled back through these tasks, and records it again when re-applied', async () => {
      await migrate(url, project, ['--direction', 'down']);
      expect(Object.keys(await recordedChecksums(url))).to.deep.equal([ALPHA, BETA, GAMMA]);
      const run = await status(url, project);
      expect(printed(run).slice(-3)).to.deep.equal([
        'info:   pending       ' + DELTA,
        'info: 3 applied, 1 pending',
        'info: pending: `gulp migrate` applies them',
      ]);
      expect(run.exitCodes).to.deep.equal([2]);
      await migrate(url, project);
      expect(Object.keys(await recordedChecksums(url))).to.deep.equal([ALPHA, BETA, GAMMA, DELTA]);
    });

    it('treats a checksum older than the current application (re-applied by node-pg-migrate directly) as none, not as an edit', async () => {
      await runnerDirectly(url, project, 'down');
      const file = path.join(project.migrationsDir, `${DELTA}.ts`);
      const before = readFileSync(file, 'utf8');
      writeFileSync(file, `${before}// changed while rolled back\n`);
      try {
        await runnerDirectly(url, project, 'up');
        const run = await status(url, project, ['--json']);
        const delta = (JSON.parse(run.written) as StatusDocument).migrations.find((row) => row.name === DELTA)!;
        expect(delta.state).to.equal('no checksum');
        expect(delta.checksum.recorded).to.equal(null);
        expect(run.exitCodes).to.deep.equal([0]);
      } finally {
        writeFileSync(file, before);
      }
    });
  });

  describe('an empty database', () => {
    let project: TestProject;
    let url: string;
    before(async () => {
      project = createTestProject();
      project.addMigrations('status', FIRST_FOUR);
      url = await server.freshDatabase('empty');
    });
    after(() => project?.remove());
    const relations = async () =>
      (
        await query<{ name: string }>(
          url,
          "SELECT relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
        )
      ).map((row) => row.name);

    it('shows every file as pending (exit 1) and creates nothing, not even the ledger table', async () => {
      const run = await status(url, project);
      expect(printed(run).slice(1)).to.deep.equal([
        `info:   pending       ${ALPHA}`,
        `info:   pending       ${BETA}`,
        `info:   pending       ${GAMMA}`,
        `info:   pending       ${DELTA}`,
        'info: 4 pending',
        'info: pending: `gulp migrate` applies them',
      ]);
      expect(printed(run)[0]).to.equal(`info: Migrations in ${project.migrationsDir} (ledger public.pgmigrations):`);
      expect(run.exitCodes).to.deep.equal([2]);
      const accept = await status(url, project, ['--accept']);
      expect(printed(accept)[0]).to.equal('info: Nothing to accept: no applied migration lacks a checksum');
      expect(await relations()).to.deep.equal([]);
    });
  });
});
