import type { PreflightLint } from '../lint/preflight';
import type { StartedDatabase } from '../providers/types';
import type { FlagName } from '../settings/flags';
import type { Settings } from '../settings/settings';
import type { Logger } from '../util/logger';
import { need, type HandoffKey, type TaskContext } from './context';
import { defineStep, type Step, type StepInfo } from './step';
import { createCreateMigrationTask, type CreateMigrationStepOptions } from './steps/create-migration';
import { createCloneDatabasesTask, createRunCommandTask, type CloneDatabasesStepOptions, type RunCommandStepOptions } from './steps/db-run';
import { createDbStopTask } from './steps/db-stop';
import { createEnsureEnvTask, type EnsureEnvOptions, type EnsureEnvStep } from './steps/ensure-env';
import { createLintTask, type LintTaskOptions } from './steps/lint';
import { createMigrateTask, type MigrateStepOptions } from './steps/migrate';
import { createRedoTask, type RedoOptions } from './steps/redo';
import { createSchemaCheckTask, createSchemaDumpTask } from './steps/schema';
import { createBaselineTask, createDriftTask, createLiveServerTask } from './steps/live';
import { createStartDbTask, type StartDbOptions } from './steps/start-db';
import { createStatusTask, type StatusStepOptions } from './steps/status';
import { createTeardownTask } from './steps/teardown';
import { createVerifyGuardTask, createVerifyTask } from './steps/verify';
import { createWaitDbTask, type WaitDbOptions } from './steps/wait-db';
import { createWatchTask, type WatchTaskOptions } from './steps/watch';

/** What a step of a team's own receives when it runs: what the earlier steps handed on, and the logger. */
export interface CustomStepInput {
  settings: Settings;
  /** The database startDb started, when an earlier step did. */
  database?: StartedDatabase;
  /** The URL of the database the command works on: the started one's, else the configured one. */
  url: string;
  logger: Logger;
}

/** A step of a team's own (a seed, a fixture load, a report), composed like the built-in ones. */
export interface CustomStepDefinition<Needs extends HandoffKey = 'settings'> {
  /** Its name in gulp's log and `gulp --tasks`; distinct from the command's. */
  name: string;
  description?: string;
  /** What earlier steps must hand on. Default: the settings (ensureEnv). Add 'database' to need startDb before it. */
  needs?: readonly Needs[];
  /** Flags it reads (the command then accepts them). */
  flags?: readonly FlagName[];
  /** What it asks of the settings: it connects (default true), it needs the migrations folder, … */
  requires?: StepInfo['requires'];
  run(input: CustomStepInput): Promise<void> | void;
}

/** The step factories, bound to one context: what each command (and a team's own) is composed of. */
export interface StepFactories {
  ensureEnv(options?: EnsureEnvOptions): EnsureEnvStep;
  startDb(options?: StartDbOptions): Step<'settings', 'database' | 'keepDatabase'>;
  waitDb(options?: WaitDbOptions): Step<'settings', never>;
  migrate(options?: MigrateStepOptions): Step<'settings', never>;
  teardown(): Step<never, never>;
  status(options?: StatusStepOptions): Step<'settings', never>;
  createMigration(options?: CreateMigrationStepOptions): Step<'settings', never>;
  redo(options?: RedoOptions): Step<'settings', never>;
  verifyGuard(): Step<'settings', never>;
  verify(): Step<'settings' | 'database', never>;
  lint(options?: LintTaskOptions): Step<'settings', never>;
  watch(options?: WatchTaskOptions): Step<'settings', never>;
  stopDb(): Step<never, never>;
  dumpSchema(): Step<'settings' | 'database', never>;
  checkSchema(): Step<'settings' | 'database', never>;
  liveServer(command: string): Step<'settings', never>;
  drift(): Step<'settings' | 'database', never>;
  baseline(): Step<'settings' | 'database', never>;
  /** db:run --clones N: copies of the migrated database, DATABASE_URL_1 … _N for runCommand. */
  cloneDatabases(options?: CloneDatabasesStepOptions): Step<'settings' | 'database', 'clones'>;
  /** db:run --run COMMAND: the command, with DATABASE_URL (and DB_*) at the migrated database; gulp exits with its status. */
  runCommand(options?: RunCommandStepOptions): Step<'settings', never>;
  /** A step of your own. @example steps.step({ name: 'seed', needs: ['settings', 'database'], run: async ({ url }) => seed(url) }) */
  step<Needs extends HandoffKey = 'settings'>(definition: CustomStepDefinition<Needs>): Step<Needs, never>;
}

/**
 * The step factories bound to `ctx`.
 * @example const s = stepFactories(ctx); const steps = [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate()];
 */
export function stepFactories(ctx: TaskContext): StepFactories {
  return {
    ensureEnv: (options) => createEnsureEnvTask(ctx, options),
    startDb: (options) => createStartDbTask(ctx, options),
    waitDb: (options) => createWaitDbTask(ctx, options),
    migrate: (options) => createMigrateTask(ctx, options),
    teardown: () => createTeardownTask(ctx),
    status: (options) => createStatusTask(ctx, options),
    createMigration: (options) => createCreateMigrationTask(ctx, options),
    redo: (options) => createRedoTask(ctx, options),
    verifyGuard: () => createVerifyGuardTask(ctx),
    verify: () => createVerifyTask(ctx),
    lint: (options) => createLintTask(ctx, options),
    watch: (options) => createWatchTask(ctx, options),
    stopDb: () => createDbStopTask(ctx),
    dumpSchema: () => createSchemaDumpTask(ctx),
    checkSchema: () => createSchemaCheckTask(ctx),
    liveServer: (command) => createLiveServerTask(ctx, command),
    drift: () => createDriftTask(ctx),
    baseline: () => createBaselineTask(ctx),
    cloneDatabases: (options) => createCloneDatabasesTask(ctx, options),
    runCommand: (options) => createRunCommandTask(ctx, options),
    step: (definition) => createCustomStep(ctx, definition),
  };
}

/**
 * A team's own step: it runs with what the steps before it handed on.
 * @example const seed = createCustomStep(ctx, { name: 'seed', needs: ['settings', 'database'], run: ({ url }) => seedDatabase(url) });
 */
export function createCustomStep<Needs extends HandoffKey = 'settings'>(ctx: TaskContext, definition: CustomStepDefinition<Needs>): Step<Needs, never> {
  const { name, description = name, needs = ['settings' as Needs], flags = [], requires = { connects: true }, run } = definition;
  return defineStep(ctx, { name, description, needs, flags, requires }, async () => {
    const settings = need(ctx, 'settings', name);
    const database = ctx.handoff.database;
    await run({ settings, ...(database ? { database } : {}), url: database?.url ?? settings.connection.url, logger: ctx.logger });
  });
}

export type { PreflightLint };
