import type { TaskContext } from '../context';
import { defineTask, type DescribedTask } from '../define-task';
import { releaseDatabase } from '../release-database';

/** Stops and removes the database startDb started (unless KEEP_DB=1). Idempotent; a no-op when nothing started. */
export function createTeardownTask(ctx: TaskContext): DescribedTask {
  return defineTask(
    ctx,
    { name: 'teardown', description: 'Stop and remove the database this run started (kept with KEEP_DB=1)' },
    () => releaseDatabase(ctx),
  );
}
