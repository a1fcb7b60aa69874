import type { Config } from '../settings/config';
import { Cleanups } from '../util/cleanups';
import { createRedactingLogger, redactSecrets, type Logger } from '../util/logger';
import type { PreflightLint } from '../lint/preflight';
import type { StartedDatabase } from '../providers/types';

/** What the tasks of one gulp process share: configuration, the started database, the logger, the cleanups. */
export interface TaskContext {
  /** Writes through redaction: every secret in `secrets` is masked. */
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly cleanups: Cleanups;
  /** Passwords known to this run; never printed. */
  readonly secrets: Set<string>;
  /** Set by ensureEnv. */
  config?: Config;
  /** Set by startDb. */
  database?: StartedDatabase;
  /** Set by startDb: leave the database running after the run (KEEP_DB=1, or db:start). */
  keepDatabase?: boolean;
  /** Set by ensureEnv when a later task migrates: migrate's pre-flight lint, started early to run while the database starts. */
  preflightLint?: PreflightLint;
  /** Set by the signal handler while it cleans up; resolves once the process is about to end by the signal. */
  shutdown?: Promise<void>;
  /** How a task that reports through its exit status (migrate:status's bitmask) sets it; the gulpfile decides. */
  readonly setExitCode: (code: number) => void;
}

export interface ContextOptions {
  /** Default: console. In a gulpfile pass gulplog. */
  logger?: Logger;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: process.argv.slice(2). */
  argv?: readonly string[];
  /** Default: process.cwd(). */
  cwd?: string;
  /** Where tasks report an exit status (migrate:status). Default: ignore it; a gulpfile passes one that sets the process's exit code. */
  setExitCode?: (code: number) => void;
}

/**
 * Creates the context one gulp process shares between its tasks.
 * @example const ctx = createContext({ logger: gulplog }); export const migrate = series(createEnsureEnvTask(ctx), …);
 */
export function createContext({
  logger = console,
  env = process.env,
  argv = process.argv.slice(2),
  cwd = process.cwd(),
  setExitCode = () => undefined,
}: ContextOptions = {}): TaskContext {
  const secrets = new Set<string>();
  return { logger: createRedactingLogger(logger, secrets), env, argv, cwd, cleanups: new Cleanups(), secrets, setExitCode };
}

/** Masks the context's secrets in an error's message (and its hint) before gulp prints it. */
export function redactError(ctx: TaskContext, error: unknown): unknown {
  if (error instanceof Error && ctx.secrets.size > 0) {
    const redacted = redactSecrets(error.message, ctx.secrets);
    if (redacted !== error.message) error.message = redacted;
    if (error.stack) error.stack = redactSecrets(error.stack, ctx.secrets);
  }
  return error;
}

/** The configuration ensureEnv resolved; a clear error when a task is wired without it. */
export function requireConfig(ctx: TaskContext): Config {
  if (!ctx.config) throw new Error('ensureEnv must run before this task: wire createEnsureEnvTask(ctx) first in the series');
  return ctx.config;
}
