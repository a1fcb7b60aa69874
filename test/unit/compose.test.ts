import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import gulp from 'gulp';
import Undertaker from 'undertaker';
import { COMMAND_IDS, COMMANDS } from '../../tasks/gulp/commands';
import { composeCommand, runSteps, type AnyStep } from '../../tasks/gulp/compose';
import { createContext } from '../../tasks/gulp/context';
import { createMigrationTasks, MigrationTasksRegistry } from '../../tasks/gulp/migration-tasks';
import { stepFactories } from '../../tasks/gulp/step-factories';
import { TaskError } from '../../tasks/util/errors';
import { createRecordingLogger } from '../support/recording-logger';

// gulp-cli listens for the errors undertaker emits; without a listener an EventEmitter throws them.
before(() => gulp.on('error', () => undefined));

/** Runs a gulp task function (one that takes `done`) to its end. */
function run(task: (done: (error?: Error | null) => void) => unknown): Promise<void> {
  return new Promise((resolve, reject) => void task((error) => (error ? reject(error) : resolve())));
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('composing commands from steps', () => {
  let cwd: string;
  beforeEach(() => (cwd = mkdtempSync(path.join(os.tmpdir(), 'pgmt-compose-'))));
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));
  const context = (argv: string[], env: Record<string, string> = {}) => createContext({ logger: createRecordingLogger(), env, argv, cwd, gulp });

  it('refuses a step placed before the step that gives what it needs, where the command is composed', () => {
    const ctx = context(['x']);
    const s = stepFactories(ctx);
    const steps: AnyStep[] = [s.ensureEnv(), s.waitDb(), s.verify()];
    expect(() => composeCommand(ctx, gulp, { name: 'verify:here', description: 'd', steps })).to.throw(
      'verify:here: step verify needs database, which no step before it gives (put ensureEnv first, startDb before the steps that use its database)',
    );
  });

  it('takes the flags of its steps, and ensureEnv then rejects any other flag of ours before anything starts', async () => {
    const ctx = context(['seeded', '--format', 'json'], { DATABASE_URL: 'postgresql://app:pw@127.0.0.1:1/app' });
    const s = stepFactories(ctx);
    let ran = false;
    const seed = s.step({ name: 'seed', run: async () => void (ran = true) });
    const command = composeCommand(ctx, gulp, { name: 'seeded', description: 'd', steps: [s.ensureEnv(), s.waitDb(), seed] });
    expect(Object.keys(command.flags ?? {})).to.deep.equal(['--timeout SECONDS', '--dotenv FILE']);
    const error = await failureOf(run(command));
    expect(error).to.be.instanceOf(TaskError);
    expect(error.message.split('\n')[0]).to.equal('--format does not apply to this task (it takes --timeout, --dotenv)');
    expect(ran).to.equal(false);
  });

  it('appends a teardown to a command that starts a database, and releases the database when a later step fails', async () => {
    const ctx = context(['seeded']);
    const s = stepFactories(ctx);
    let stopped = 0;
    // A startDb stand-in: gives a database the way startDb does.
    const startDb = Object.assign(
      async () => {
        ctx.handoff.database = { provider: 'embedded', url: 'postgresql://a:b@127.0.0.1:1/c', description: 'fake', stop: async () => void (stopped += 1) };
        ctx.handoff.keepDatabase = false;
      },
      { displayName: 'startDb', description: 'fake', step: { ...s.startDb().step } },
    ) as ReturnType<typeof s.startDb>;
    const failing = s.step({ name: 'seed', needs: ['settings', 'database'], run: async () => Promise.reject(new Error('seed data is broken')) });
    let steps: AnyStep[] = [];
    const recorder = { series: (...tasks: AnyStep[]) => ((steps = tasks), () => undefined) } as never;
    composeCommand(ctx, recorder, { name: 'seeded', description: 'd', steps: [s.ensureEnv(), startDb, failing] });
    expect(steps.map((step) => step.displayName)).to.deep.equal(['ensureEnv', 'startDb', 'seed', 'teardown']);

    const error = await failureOf(runSteps(ctx, { name: 'seeded', description: 'd', steps: [s.ensureEnv(), startDb, failing] }));
    expect(error.message).to.equal('seed data is broken');
    expect(stopped).to.equal(1);
    expect(ctx.handoff.database).to.equal(undefined);
  });

  it('hands a step of your own the settings and the URL of the database', async () => {
    const ctx = context(['mine'], { DATABASE_URL: 'postgresql://app:pw@db.example.com:6000/hub' });
    const s = stepFactories(ctx);
    const seen: string[] = [];
    const mine = s.step({ name: 'mine', run: ({ url, settings }) => void seen.push(url, settings.source.migrationsDir) });
    await runSteps(ctx, { name: 'mine', description: 'd', steps: [s.ensureEnv(), mine] });
    expect(seen).to.deep.equal(['postgresql://app:pw@db.example.com:6000/hub', path.join(cwd, 'migrations')]);
  });
});

describe('createMigrationTasks and MigrationTasksRegistry', () => {
  let cwd: string;
  beforeEach(() => (cwd = mkdtempSync(path.join(os.tmpdir(), 'pgmt-api-'))));
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('exports every command of the table by its export name, and nothing else enumerable', () => {
    const tasks = createMigrationTasks({ gulp, cwd, env: {}, argv: [] });
    expect(Object.keys(tasks)).to.deep.equal(Object.keys(COMMANDS));
    expect(COMMAND_IDS.map((id) => tasks[id].displayName)).to.deep.equal(Object.values(COMMANDS).map((row) => row.name));
    expect(typeof tasks.compose).to.equal('function');
    expect(Object.keys(tasks.steps)).to.include.members(['ensureEnv', 'startDb', 'waitDb', 'migrate', 'teardown', 'step']);
  });

  it('registers under a prefix, and hints name the commands as registered', async () => {
    const logger = createRecordingLogger();
    const tasks = createMigrationTasks({ gulp, cwd, env: {}, argv: ['db:migrate:create'], prefix: 'db:', logger });
    expect(tasks.migrateCreate.displayName).to.equal('db:migrate:create');
    const error = await failureOf(run(tasks.migrateCreate));
    expect(error.message).to.equal(
      'migrate:create needs a name for the new migration: --name NAME\n' +
        '  hint: run `gulp db:migrate:create --name add_new_table` (through npm: `npm run migrate:create -- --name add_new_table`)',
    );
  });

  it('takes a project default (here the migrations folder) that an environment variable overrides', async () => {
    const logger = createRecordingLogger();
    const create = (env: Record<string, string>) =>
      run(createMigrationTasks({ gulp, cwd, env, argv: ['migrate:create', '--name', 'first'], migrationsDir: 'db/migrations', logger }).migrateCreate);
    await create({});
    await create({ MIGRATIONS_DIR: 'elsewhere' });
    const created = logger.lines.filter((line) => line.startsWith('info: Created ') && line.includes('_first.ts'));
    expect(created.map((line) => line.replace(/\d{13}/, 'T'))).to.deep.equal(['info: Created db/migrations/T_first.ts', 'info: Created elsewhere/T_first.ts']);
  });

  it('as an undertaker registry: gulp.registry(new MigrationTasksRegistry()) gives the commands with their steps', () => {
    const taker = new Undertaker();
    taker.registry(new MigrationTasksRegistry({ cwd, env: {}, argv: [] }) as never);
    const tree = taker.tree({ deep: true }) as { nodes: { label: string; nodes: { label: string; nodes: { label: string }[] }[] }[] };
    const local = tree.nodes.find((node) => node.label === 'migrate:local')!;
    expect(local.nodes[0]!.nodes.map((step) => step.label)).to.deep.equal(['ensureEnv', 'startDb', 'waitDb', 'migrate', 'teardown']);
    expect(tree.nodes.map((node) => node.label)).to.deep.equal(Object.values(COMMANDS).map((row) => row.name));
  });
});
