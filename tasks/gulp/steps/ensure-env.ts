import path from 'node:path';
import { assertMigrateAsPossible } from '../../engine/migration-role';
import { startPreflightLint } from '../../lint/preflight';
import { checkEnvFile } from '../../settings/env-file';
import { readKeptStateSync } from '../../settings/kept-state';
import { parseFlags, type FlagName } from '../../settings/flags';
import { resolveSettings } from '../../settings/settings';
import { TaskError } from '../../util/errors';
import { redactUrl } from '../../util/redact';
import type { CommandPlan, ConfigurableStep } from '../compose';
import type { TaskContext } from '../context';
import { defineStep, requirementsOf, type Step, type StepRequirements } from '../step';

export interface EnsureEnvOptions extends StepRequirements {
  /** The flags the command takes (as in its `gulp --tasks` entry): any other of ours is rejected. Default: the command's, else all. */
  flags?: readonly FlagName[];
}

/** The ensureEnv step: gives the settings (and, when a later step migrates, the pre-flight lint started early). */
export type EnsureEnvStep = Step<never, 'settings' | 'preflightLint'> & ConfigurableStep;

/**
 * Loads `.env` (real environment variables win), resolves flags and the connection, and hands the validated settings
 * on. Every problem is reported at once. Composed into a command, it learns what the later steps need (a database of
 * their own, the migrations folder, …) and which flags the command takes; the options given here win over that.
 * @example const ensureEnv = createEnsureEnvTask(ctx, { migrates: true });
 */
export function createEnsureEnvTask(ctx: TaskContext, options: EnsureEnvOptions = {}): EnsureEnvStep {
  let plan: CommandPlan | undefined;
  const step = defineStep(
    ctx,
    {
      name: 'ensureEnv',
      description: 'Load .env and validate the connection settings and flags',
      flags: ['dotenv'],
      gives: ['settings', 'preflightLint'],
    },
    async () => {
      assertEnvFileReadable(ctx);
      const given = parseFlags(ctx.argv);
      const fromLater = (plan?.later ?? []).map((later) => requirementsOf(later.step, given));
      const any = (key: keyof StepRequirements) => options[key] ?? fromLater.some((requirements) => requirements[key] === true);
      const startsDatabase = any('startsDatabase');
      const applies = any('applies');
      // Standalone, it connects unless told otherwise; composed, when a later step does (lint and create do not).
      const connects = options.connects ?? (plan ? fromLater.some((requirements) => requirements.connects === true) : true);
      const flags = options.flags ?? plan?.flags;
      const settings = resolveSettings({
        env: ctx.env,
        argv: ctx.argv,
        cwd: ctx.cwd,
        startsDatabase,
        migrates: any('migrates'),
        liveDatabase: any('liveDatabase'),
        connects,
        runsCommand: any('runsCommand'),
        allowedFlags: flags,
        defaults: ctx.defaults,
      });
      ctx.secrets.add(settings.connection.password);
      if (applies) assertMigrateAsPossible(settings.connection, startsDatabase);
      ctx.handoff.settings = settings;
      if (applies && settings.run.lint && !settings.run.dryRun && (flags ?? ['lint']).includes('lint')) {
        ctx.handoff.preflightLint = startPreflightLint(settings.source);
      }
      const source = settings.envFile ? ` (loaded ${settings.envFile})` : '';
      ctx.logger.debug?.(`Connection from ${settings.connection.source}${source}: ${redactUrl(settings.connection.url)}`);
      // A kept database that will be reused has its own password: nothing is generated for it.
      const reusesKept = settings.provider.keepDb && readKeptStateSync(settings.provider.projectDir) !== undefined;
      if (settings.connection.passwordGenerated && connects && settings.fleet.targets === undefined && !reusesKept) {
        ctx.logger.info('DB_PASSWORD is not set: generated a random one for the database this run starts');
      }
    },
  );
  return Object.assign(step, { configure: (commandPlan: CommandPlan) => void (plan = commandPlan) });
}

/**
 * A .env line dotenv cannot read is skipped without a word, and an unquoted `#` cuts a value short: the run would then
 * use other settings than the ones written (a missing DATABASE_URL, a truncated password). Refused before anything runs.
 */
function assertEnvFileReadable(ctx: TaskContext): void {
  const file = path.resolve(ctx.cwd, parseFlags(ctx.argv).dotenv ?? '.env');
  const problems = checkEnvFile(file, ctx.cwd);
  if (problems.length === 0) return;
  const hint = `fix ${path.relative(ctx.cwd, file) || file}: one NAME=value per line (comments start with #; quote a value that contains # or spaces, see .env.example); then run the command again`;
  if (problems.length === 1) throw new TaskError(problems[0]!, { hint });
  throw new TaskError(`${problems.length} problems in the environment file:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, { hint });
}
