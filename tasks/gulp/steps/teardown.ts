import type { TaskContext } from '../context';
import { releaseDatabase } from '../release-database';
import { defineStep, type Step } from '../step';

/**
 * Stops and removes the database startDb started (unless it is kept). Idempotent; a no-op when nothing started. A
 * command that starts a database runs it also when a step fails or a signal arrives.
 * @example const teardown = createTeardownTask(ctx);
 */
export function createTeardownTask(ctx: TaskContext): Step<never, never> {
  return defineStep(ctx, { name: 'teardown', description: 'Stop and remove the database this run started (kept with KEEP_DB=1)', releasesDatabase: true }, () =>
    releaseDatabase(ctx),
  );
}
