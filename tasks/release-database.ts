import type { TaskContext } from './context';
import { redactUrl } from './redact';

/**
 * Stops whatever startDb started, unless it is to be kept; then forgets it. Safe to call twice, after a failed
 * start, and from a signal handler.
 */
export async function releaseDatabase(ctx: TaskContext): Promise<void> {
  const database = ctx.database;
  if (!database) return;
  ctx.database = undefined;
  if (database.provider === 'external') return;
  if (ctx.keepDatabase) {
    ctx.logger.info(`Kept the database running at ${redactUrl(database.url)}: KEEP_DB=1 runs reuse it, \`gulp db:stop\` stops it`);
    return;
  }
  const started = performance.now();
  await database.stop();
  ctx.logger.info(`Stopped the ${database.provider} database and removed its files in ${Math.round(performance.now() - started)} ms`);
}
