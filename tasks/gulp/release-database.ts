import type { TaskContext } from './context';
import { dropClones } from '../engine/clone-databases';
import { messageOf } from '../util/errors';
import { redactUrl } from '../util/redact';

/** The release in progress per context: a second call (a signal during teardown) waits for it instead of returning. */
const releasing = new WeakMap<TaskContext, Promise<void>>();

/**
 * Stops whatever startDb started, unless it is to be kept; then forgets it. Safe to call twice, after a failed
 * start, and from a signal handler: a call while one is in progress resolves when that one is done, so a Ctrl-C during
 * the teardown does not end the process with the server half-stopped.
 */
export async function releaseDatabase(ctx: TaskContext): Promise<void> {
  const inProgress = releasing.get(ctx);
  if (inProgress) return inProgress;
  const release = stopUnlessKept(ctx);
  releasing.set(ctx, release);
  try {
    await release;
  } finally {
    releasing.delete(ctx);
  }
}

async function stopUnlessKept(ctx: TaskContext): Promise<void> {
  const database = ctx.handoff.database;
  if (!database) return;
  ctx.handoff.database = undefined;
  const clones = ctx.handoff.clones;
  ctx.handoff.clones = undefined;
  // Copies on a server that outlives the run (kept, or external) are dropped; a throw-away server takes them along.
  if (clones && clones.clones.length > 0 && (database.provider === 'external' || ctx.handoff.keepDatabase)) await dropCopies(ctx, clones);
  if (database.provider === 'external') return;
  if (ctx.handoff.keepDatabase) {
    ctx.logger.info(`Kept the database running at ${redactUrl(database.url)}: KEEP_DB=1 runs reuse it, \`gulp db:stop\` stops it`);
    return;
  }
  const started = performance.now();
  await database.stop();
  ctx.logger.info(`Stopped the ${database.provider} database and removed its files in ${Math.round(performance.now() - started)} ms`);
}

async function dropCopies(ctx: TaskContext, clones: NonNullable<TaskContext['handoff']['clones']>): Promise<void> {
  const count = clones.clones.length;
  try {
    await dropClones(clones);
    ctx.logger.info(`Dropped the ${count === 1 ? 'copy' : `${count} copies`} of ${clones.template} (${clones.clones.map((clone) => clone.name).join(', ')})`);
  } catch (error) {
    ctx.logger.warn(`Could not drop every copy of ${clones.template}: ${messageOf(error)}`);
  }
}
