import { closest } from '../lint/lint-config';
import { projectNames } from '../settings/project-names';
import { TaskError } from '../util/errors';
import type { ProjectDefaults } from '../settings/settings';
import type { Logger } from '../util/logger';
import { COMMANDS, COMMAND_IDS, type CommandId } from './commands';
import { CommandNames } from './command-names';
import { composeCommand, type AnyStep, type Command, type CommandDefinition, type WiredSteps } from './compose';
import { createContext, type TaskContext } from './context';
import { loadGulp, type GulpInstance } from './gulp-instance';
import { stepFactories, type StepFactories } from './step-factories';

/** Options of createMigrationTasks and MigrationTasksRegistry. Environment variables and flags win over them. */
export interface MigrationTasksOptions extends Partial<ProjectDefaults> {
  /** Put before every command's name: `{ prefix: 'db:' }` registers `db:migrate:local`, `db:migrate`, … Default: none. */
  prefix?: string;
  /** Register a command under another name: `{ names: { migrateLocal: 'db:up' } }`. Wins over `prefix`. */
  names?: Partial<Record<CommandId, string>>;
  /** Where the commands write. Default: gulplog, which gulp-cli prints. */
  logger?: Logger;
  /** The gulp to compose with (its series, its watch). Default: the project's gulp, the one gulp-cli loaded. */
  gulp?: GulpInstance;
  /** For tests: the environment. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** For tests: the command line after `gulp`. Default: process.argv.slice(2). */
  argv?: readonly string[];
  /** The project folder. Default: process.cwd() (gulp-cli changes to the gulpfile's folder, or --cwd). */
  cwd?: string;
}

/** Every command as a described gulp task, keyed by its export name; plus (not enumerable) the way to compose more. */
export type MigrationTasks = Record<CommandId, Command> & {
  /** The step factories, bound to the same context as the commands. */
  readonly steps: StepFactories;
  /**
   * Composes a command of your own from steps, with the same teardown and checks as the built-in ones.
   * @example tasks.compose({ name: 'migrate:seeded', description: 'migrate:local, then seed', steps: [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate(), seed] })
   */
  compose<const S extends readonly AnyStep[]>(definition: CommandDefinition<S & WiredSteps<S>>): Command;
  /** The context the commands share (what steps hand on, the cleanups, the logger). */
  readonly context: TaskContext;
};

/**
 * Every command of pg-migrate-tasks as a gulp task with its description, its flags and its steps (ensureEnv →
 * startDb → waitDb → migrate → teardown, …), ready to export from a gulpfile. Settings are read when a command runs,
 * never here, so `gulp --tasks` needs no `.env`.
 * @example
 * // gulpfile.js
 * module.exports = require('pg-migrate-tasks').createMigrationTasks();
 * @example
 * // gulpfile.js: a command of your own, migrate:local plus seed data, with the same teardown and checks
 * const tasks = require('pg-migrate-tasks').createMigrationTasks({ migrationsDir: 'db/migrations' });
 * const s = tasks.steps;
 * const seed = s.step({ name: 'seed', needs: ['settings', 'database'], run: ({ url }) => seedDatabase(url) });
 * module.exports = { ...tasks, migrateSeeded: tasks.compose({ name: 'migrate:seeded', description: 'migrate:local, then seed', steps: [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate(), seed, s.teardown()] }) };
 */
export function createMigrationTasks(options: MigrationTasksOptions = {}): MigrationTasks {
  assertKnownOptions(options);
  const { prefix = '', names = {}, logger, env, argv, cwd = process.cwd() } = options;
  const registered = Object.fromEntries(COMMAND_IDS.map((id) => [COMMANDS[id].name, names[id] ?? `${prefix}${COMMANDS[id].name}`]));
  const gulp = options.gulp ?? loadGulp(cwd);
  const ctx = createContext({
    logger: logger ?? (require('gulplog') as Logger),
    ...(env ? { env } : {}),
    ...(argv ? { argv } : {}),
    cwd,
    setExitCode: (code) => (process.exitCode = code),
    defaults: projectDefaults(options, cwd),
    commandNames: new CommandNames(registered),
    gulp,
  });
  const steps = stepFactories(ctx);
  const tasks = {} as Record<CommandId, Command>;
  for (const id of COMMAND_IDS) {
    const row = COMMANDS[id];
    tasks[id] = composeCommand(ctx, gulp, { name: registered[row.name]!, description: row.description, steps: row.steps(steps) });
  }
  // Not enumerable: gulp-cli registers every enumerable function of a gulpfile's exports as a task.
  Object.defineProperties(tasks, {
    steps: { value: steps },
    compose: { value: (definition: CommandDefinition<readonly AnyStep[]>) => composeCommand(ctx, gulp, definition) },
    context: { value: ctx },
  });
  return tasks as MigrationTasks;
}

/**
 * The ProjectDefaults among the options (the rest configure the tasks themselves). Role and database names not given
 * come from the project's package.json name, so a team's throw-away databases are named after its project.
 */
/** Every option createMigrationTasks reads: a misspelt one (`migrationDir`) would otherwise be ignored without a word. */
const OPTION_NAMES: readonly (keyof MigrationTasksOptions)[] = [
  'prefix',
  'names',
  'logger',
  'gulp',
  'env',
  'argv',
  'cwd',
  'migrationsDir',
  'initScriptsDir',
  'database',
  'user',
  'migrationsTable',
  'provider',
  'image',
  'composeFile',
  'waitTimeoutSeconds',
  'schemaFile',
];

/** Refuses an option, or a command in `names`, that these tasks do not know, naming the nearest one. */
function assertKnownOptions(options: MigrationTasksOptions): void {
  const unknown = (given: string, known: readonly string[], what: string) => {
    const near = closest(given, known);
    return new TaskError(`createMigrationTasks: unknown ${what} "${given}"${near ? ` (did you mean "${near}"?)` : ''}`, {
      hint: `the ${what}s are: ${known.join(', ')} (README, "Options")`,
    });
  };
  for (const key of Object.keys(options)) if (!(OPTION_NAMES as readonly string[]).includes(key)) throw unknown(key, OPTION_NAMES, 'option');
  for (const key of Object.keys(options.names ?? {}))
    if (!(COMMAND_IDS as readonly string[]).includes(key)) throw unknown(key, COMMAND_IDS, 'command in names');
}

function projectDefaults(options: MigrationTasksOptions, cwd: string): Partial<ProjectDefaults> {
  const { migrationsDir, initScriptsDir, migrationsTable, provider, image, composeFile, waitTimeoutSeconds, schemaFile } = options;
  const named = options.database === undefined || options.user === undefined ? projectNames(cwd) : undefined;
  const database = options.database ?? named?.database;
  const user = options.user ?? named?.user;
  const defaults = { migrationsDir, initScriptsDir, database, user, migrationsTable, provider, image, composeFile, waitTimeoutSeconds, schemaFile };
  return Object.fromEntries(Object.entries(defaults).filter(([, value]) => value !== undefined));
}

/** A gulp task function as an undertaker registry holds it. */
type TaskFunction = (...args: never[]) => unknown;

/**
 * The commands as an undertaker custom registry: gulp's documented way to share a set of tasks. gulp hands the
 * registry itself to `init`, so nothing here loads gulp.
 * @example
 * // gulpfile.mjs
 * import gulp from 'gulp';
 * import { MigrationTasksRegistry } from 'pg-migrate-tasks';
 * gulp.registry(new MigrationTasksRegistry({ migrationsDir: 'db/migrations' }));
 */
export class MigrationTasksRegistry {
  readonly #options: MigrationTasksOptions;
  readonly #tasks = new Map<string, TaskFunction>();

  constructor(options: MigrationTasksOptions = {}) {
    this.#options = options;
  }

  /**
   * Called by gulp.registry() once this is its registry: registers every command through gulp's own `task()`, which
   * records what `gulp --tasks` shows (each command's steps) and stores it here.
   */
  init(gulp: GulpInstance & { task(name: string, task: TaskFunction): void }): void {
    const tasks = createMigrationTasks({ ...this.#options, gulp: this.#options.gulp ?? gulp });
    for (const id of COMMAND_IDS) gulp.task(tasks[id].displayName, tasks[id] as unknown as TaskFunction);
  }

  get(name: string): TaskFunction | undefined {
    return this.#tasks.get(name);
  }

  set(name: string, task: TaskFunction): TaskFunction {
    this.#tasks.set(name, task);
    return task;
  }

  tasks(): Record<string, TaskFunction> {
    return Object.fromEntries(this.#tasks);
  }
}
