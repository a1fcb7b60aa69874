import type { DatabaseClones } from '../engine/clone-databases';
import type { PreflightLint } from '../lint/preflight';
import type { StartedDatabase } from '../providers/types';
import type { ProjectDefaults, Settings } from '../settings/settings';
import { Cleanups } from '../util/cleanups';
import { createRedactingLogger, redactSecrets, type Logger } from '../util/logger';
import { CommandNames } from './command-names';
import type { GulpInstance } from './gulp-instance';

/**
 * What steps hand to the steps after them. Each key is given by one step and needed by others; a step declares both
 * (see Step), so that composing steps in an order where a need comes before its giver fails where it is wired.
 */
export interface Handoff {
  /** Given by ensureEnv: the validated settings. */
  settings: Settings;
  /** Given by startDb: the database this run started (or reused), stopped by teardown unless kept. */
  database: StartedDatabase;
  /** Given by startDb: leave the database running after the run (KEEP_DB=1, or db:start). */
  keepDatabase: boolean;
  /** Given by ensureEnv when a later step migrates: the pre-flight lint, started early to run while the database starts. */
  preflightLint: PreflightLint;
  /** Given by cloneDatabases (db:run --clones): the copies of the migrated database, dropped with a kept or external one. */
  clones: DatabaseClones;
}
export type HandoffKey = keyof Handoff;

/** Which step gives each hand-off, for the message when a step is wired without it. */
const GIVEN_BY: Record<HandoffKey, string> = {
  settings: 'ensureEnv',
  database: 'startDb',
  keepDatabase: 'startDb',
  preflightLint: 'ensureEnv',
  clones: 'cloneDatabases',
};

/** What the steps of one gulp process share: the logger, the environment, the cleanups, and what steps hand on. */
export interface TaskContext {
  /** Writes through redaction: every secret in `secrets` is masked, and command names are the registered ones. */
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly cleanups: Cleanups;
  /** Passwords known to this run; never printed. */
  readonly secrets: Set<string>;
  /** The project's defaults (createMigrationTasks options), used where no variable or flag says otherwise. */
  readonly defaults: Partial<ProjectDefaults>;
  /** The names the commands are registered under, for hints that name a command to run. */
  readonly commandNames: CommandNames;
  /** The gulp the commands were registered with (its watch is the watcher's); found from the project folder when unset. */
  readonly gulp?: GulpInstance;
  /** What earlier steps of the running command handed on. Read it with {@link need}. */
  readonly handoff: Partial<Handoff>;
  /** Set by the signal handler while it cleans up; resolves once the process is about to end by the signal. */
  shutdown?: Promise<void>;
  /** How a task that reports through its exit status (migrate:status's bitmask) sets it. */
  readonly setExitCode: (code: number) => void;
}

export interface ContextOptions {
  /** Default: console. In a gulpfile pass gulplog (createMigrationTasks does). */
  logger?: Logger;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: process.argv.slice(2). */
  argv?: readonly string[];
  /** Default: process.cwd(). */
  cwd?: string;
  /** Where tasks report an exit status (migrate:status). Default: ignore it; createMigrationTasks sets the process's exit code. */
  setExitCode?: (code: number) => void;
  /** The project's defaults: migrations folder, init scripts, role and database names, … */
  defaults?: Partial<ProjectDefaults>;
  /** The registered command names (canonical name → registered name), when they differ. */
  commandNames?: CommandNames;
  /** The gulp instance the commands are registered with. Default: the project's, found when first needed. */
  gulp?: GulpInstance;
}

/**
 * Creates the context one gulp process shares between its steps.
 * @example const ctx = createContext({ logger: gulplog }); const steps = [createEnsureEnvTask(ctx), createWaitDbTask(ctx)];
 */
export function createContext({
  logger = console,
  env = process.env,
  argv = process.argv.slice(2),
  cwd = process.cwd(),
  setExitCode = () => undefined,
  defaults = {},
  commandNames = new CommandNames(),
  gulp,
}: ContextOptions = {}): TaskContext {
  const secrets = new Set<string>();
  const renamed = commandNames.isIdentity ? logger : commandNames.renamingLogger(logger);
  return {
    logger: createRedactingLogger(renamed, secrets),
    env,
    argv,
    cwd,
    cleanups: new Cleanups(),
    secrets,
    defaults,
    commandNames,
    ...(gulp ? { gulp } : {}),
    handoff: {},
    setExitCode,
  };
}

/**
 * What an earlier step handed on; a clear error naming the missing step when the command was wired without it.
 * @example const settings = need(ctx, 'settings', 'waitDb');
 */
export function need<K extends HandoffKey>(ctx: TaskContext, key: K, step: string): Handoff[K] {
  const value = ctx.handoff[key];
  if (value === undefined) {
    throw new Error(`${GIVEN_BY[key]} must run before ${step}: put the ${GIVEN_BY[key]} step before it in the command's steps`);
  }
  return value;
}

/** Masks the context's secrets in an error's message (and its hint), and names commands as registered, before gulp prints it. */
export function presentError(ctx: TaskContext, error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const rewrite = (text: string) => ctx.commandNames.rename(ctx.secrets.size > 0 ? redactSecrets(text, ctx.secrets) : text);
  const message = rewrite(error.message);
  if (message !== error.message) error.message = message;
  if (error.stack) error.stack = rewrite(error.stack);
  return error;
}
