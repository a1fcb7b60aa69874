import { parseFlags, type FlagName, type RawFlags } from '../settings/flags';
import type { Requirements } from '../settings/settings';
import { presentError, type HandoffKey, type TaskContext } from './context';
import { blockingOutput } from './signals';

/** How long a failing step waits for a signal that may have caused the failure to be handled. */
const SIGNAL_GRACE_MS = 25;

/** What a step asks of the settings; ensureEnv validates the union of what the steps after it ask, before anything starts. */
export interface StepRequirements extends Requirements {
  /** The step applies or rolls back migrations: DB_MIGRATE_AS is checked up front and migrate's pre-flight lint starts early. */
  applies?: boolean;
}

/** What a step is, beside the function gulp runs: the metadata composition and `gulp --tasks` use. */
export interface StepInfo<Needs extends HandoffKey = HandoffKey, Gives extends HandoffKey = HandoffKey> {
  /** The name gulp prints (`Starting 'waitDb'`), distinct from any command's. */
  readonly name: string;
  readonly description: string;
  /** The flags the step honours: a command takes the flags of its steps. */
  readonly flags: readonly FlagName[];
  /** What it asks of the settings; may depend on the flags given (watch needs a database only with --apply). */
  readonly requires: StepRequirements | ((flags: RawFlags) => StepRequirements);
  /** What earlier steps must have handed on. */
  readonly needs: readonly Needs[];
  /** What it hands on to later steps. */
  readonly gives: readonly Gives[];
  /** It stops the database the command started (teardown): a command that starts one without it gets one appended. */
  readonly releasesDatabase?: boolean;
  /** Runs only when this holds for the flags given (watch starts a database only with --apply); default: always. */
  readonly when?: (flags: RawFlags) => boolean;
}

/**
 * A gulp task function that is one step of a command: run it alone (`await step()`), or compose it with others
 * (see composeSteps). `Needs` and `Gives` are checked where the steps are composed.
 */
export interface Step<Needs extends HandoffKey = HandoffKey, Gives extends HandoffKey = HandoffKey> {
  (): Promise<void>;
  readonly displayName: string;
  readonly description: string;
  readonly step: StepInfo<Needs, Gives>;
}

export interface DefineStepOptions<Needs extends HandoffKey, Gives extends HandoffKey> {
  name: string;
  description: string;
  flags?: readonly FlagName[];
  requires?: StepInfo['requires'];
  needs?: readonly Needs[];
  gives?: readonly Gives[];
  releasesDatabase?: boolean;
  when?: (flags: RawFlags) => boolean;
}

/**
 * Turns an async function into a named step whose errors never show a password and name commands as registered.
 * @example defineStep(ctx, { name: 'seed', description: 'Load the seed data', needs: ['settings'] }, async () => { … })
 */
export function defineStep<Needs extends HandoffKey = never, Gives extends HandoffKey = never>(
  ctx: TaskContext,
  { name, description, flags = [], requires = {}, needs = [], gives = [], releasesDatabase, when }: DefineStepOptions<Needs, Gives>,
  run: () => Promise<void>,
): Step<Needs, Gives> {
  const step = async () => {
    blockingOutput();
    try {
      if (when && !when(parseFlags(ctx.argv))) return;
      await run();
      // Ended by the signal's cleanup (the watcher closed): the re-raised signal ends the process, not "Finished".
      if (ctx.shutdown) await new Promise<never>(() => undefined);
    } catch (error) {
      // Interrupted (Ctrl-C): this failure is a consequence (the server went away, initdb was stopped). Let the
      // cleanup finish and the re-raised signal end the process, rather than gulp printing a misleading error and
      // exiting before the server is stopped. A signal that arrived with the failure is handled first.
      await new Promise((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS));
      if (ctx.shutdown) {
        await ctx.shutdown;
        await new Promise<never>(() => undefined);
      }
      throw presentError(ctx, error);
    }
  };
  return Object.assign(step, {
    displayName: name,
    description,
    step: { name, description, flags, requires, needs, gives, ...(releasesDatabase ? { releasesDatabase } : {}), ...(when ? { when } : {}) },
  });
}

/** The requirements of a step for the flags given. */
export function requirementsOf(info: StepInfo, flags: RawFlags): StepRequirements {
  if (info.when && !info.when(flags)) return {};
  return typeof info.requires === 'function' ? info.requires(flags) : info.requires;
}
