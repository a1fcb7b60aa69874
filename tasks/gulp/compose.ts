import { FLAG_NAMES, describeFlags, type FlagName } from '../settings/flags';
import type { HandoffKey, TaskContext } from './context';
import type { GulpInstance } from './gulp-instance';
import { releaseDatabase } from './release-database';
import type { Step } from './step';
import { createTeardownTask } from './steps/teardown';

/** A command: a gulp task (undertaker's series of its steps) with what `gulp --tasks` prints. */
export interface Command {
  (done: (error?: Error | null) => void): unknown;
  displayName: string;
  description: string;
  flags?: Record<string, string>;
}

/** Every step any command may hold. */
export type AnyStep = Step<HandoffKey, HandoffKey>;

type NeedsOf<S> = S extends Step<infer Needs, HandoffKey> ? Needs : never;
type GivesOf<S> = S extends Step<HandoffKey, infer Gives> ? Gives : never;

/** In place of a step wired before what it needs: the type error names what is missing. */
export interface MissingHandoff<Missing extends HandoffKey> {
  'put a step that gives this before the step here': Missing;
}

/**
 * The steps as given when each one's needs are given by a step before it; otherwise a MissingHandoff where one is not.
 * An array whose length is not known (not a tuple) is checked when the command is composed, at run time.
 */
export type WiredSteps<S extends readonly unknown[], Have extends HandoffKey = never> = number extends S['length']
  ? S
  : S extends readonly [infer First, ...infer Rest]
    ? readonly [
        [Exclude<NeedsOf<First>, Have>] extends [never] ? First : MissingHandoff<Exclude<NeedsOf<First>, Have>>,
        ...WiredSteps<Rest, Have | GivesOf<First>>,
      ]
    : readonly [];

/** What a step that validates the settings (ensureEnv) learns of the command it is part of. */
export interface CommandPlan {
  /** The command's registered name. */
  name: string;
  /** Every flag the command takes. */
  flags: readonly FlagName[];
  /** The steps after it. */
  later: readonly AnyStep[];
}

/** A step that adapts itself to the command it is composed into (ensureEnv). */
export interface ConfigurableStep {
  configure(plan: CommandPlan): void;
}

export interface CommandDefinition<S extends readonly AnyStep[]> {
  /** The name to register and run: `gulp <name>`. */
  name: string;
  /** One line for `gulp --tasks`. */
  description: string;
  /** The steps, in order. A step that needs what no earlier step gives is refused here (and by the type checker). */
  steps: S;
  /** Flags the command takes beyond those of its steps. */
  flags?: readonly FlagName[];
}

/**
 * Composes steps into a command with gulp's own `series`, so `gulp --tasks` shows them. When a step starts a
 * database, the command also stops it: a teardown step is appended when none is listed, and a step that fails (or a
 * signal) releases the database before the error is reported, although gulp's series runs nothing after a failure.
 * ensureEnv learns the command's flags and what the later steps need, so it rejects a flag the command does not take
 * and checks, before anything starts, what they will need.
 * @example composeCommand(ctx, gulp, { name: 'migrate:seeded', description: '…', steps: [ensureEnv, startDb, waitDb, migrate, seed] })
 */
export function composeCommand<const S extends readonly AnyStep[]>(
  ctx: TaskContext,
  gulp: Pick<GulpInstance, 'series'>,
  definition: CommandDefinition<S & WiredSteps<S>>,
): Command {
  const { steps, flags } = prepareSteps(ctx, definition);
  const series = gulp.series(...(steps as never[])) as unknown as Command;
  return Object.assign(series, {
    displayName: definition.name,
    description: definition.description,
    ...(flags.length > 0 ? { flags: describeFlags(flags) } : {}),
  });
}

/**
 * Runs a command's steps one after the other without gulp, with the same checks, teardown and failure handling as
 * composeCommand: for scripts and tests.
 * @example await runSteps(ctx, { name: 'migrate:local', description: '', steps: [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate()] });
 */
export async function runSteps<const S extends readonly AnyStep[]>(ctx: TaskContext, definition: CommandDefinition<S & WiredSteps<S>>): Promise<void> {
  for (const step of prepareSteps(ctx, definition).steps) await step();
}

/** The steps as composeCommand runs them (checked, teardown appended, ensureEnv configured, releasing on failure), and the command's flags. */
function prepareSteps(ctx: TaskContext, definition: CommandDefinition<readonly AnyStep[]>): { steps: AnyStep[]; flags: FlagName[] } {
  const { name } = definition;
  const steps: AnyStep[] = [...definition.steps];
  assertWired(name, steps);
  const startsDatabase = steps.some((step) => step.step.gives.includes('database'));
  if (startsDatabase && !steps.some((step) => step.step.releasesDatabase)) steps.push(createTeardownTask(ctx));
  const flags = commandFlags(steps, definition.flags ?? []);
  steps.forEach((step, index) => (step as Partial<ConfigurableStep>).configure?.({ name, flags, later: steps.slice(index + 1) }));
  return { steps: steps.map((step) => (startsDatabase ? releasingOnFailure(ctx, step) : step)), flags };
}

/** Refuses a step placed before the step that gives what it needs: the command could never run. */
function assertWired(command: string, steps: readonly AnyStep[]): void {
  const have = new Set<HandoffKey>();
  for (const step of steps) {
    const missing = step.step.needs.filter((key) => !have.has(key));
    if (missing.length > 0) {
      throw new Error(
        `${command}: step ${step.displayName} needs ${missing.join(', ')}, which no step before it gives (put ensureEnv first, startDb before the steps that use its database)`,
      );
    }
    for (const key of step.step.gives) have.add(key);
  }
}

/** The flags of the steps, in the spec's order, plus the command's own. */
function commandFlags(steps: readonly AnyStep[], extra: readonly FlagName[]): FlagName[] {
  const taken = new Set<FlagName>([...steps.flatMap((step) => step.step.flags), ...extra]);
  return FLAG_NAMES.filter((flag) => taken.has(flag));
}

/** The step as a function of its own that releases the database when the step fails, then reports the failure. */
function releasingOnFailure(ctx: TaskContext, step: AnyStep): AnyStep {
  const run = async () => {
    try {
      await step();
    } catch (error) {
      // The step's error is the one reported; a failure to stop is secondary (the teardown logged what it could).
      await releaseDatabase(ctx).catch(() => undefined);
      throw error;
    }
  };
  return Object.assign(run, { displayName: step.displayName, description: step.description, step: step.step });
}
