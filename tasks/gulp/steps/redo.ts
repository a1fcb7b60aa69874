import { migrationUrl } from '../../engine/migration-role';
import { redoMigrations } from '../../engine/redo';
import { need, type TaskContext } from '../context';
import { installSignalHandlers } from '../signals';
import { defineStep, type Step } from '../step';

export interface RedoOptions {
  /** How many to redo when --count is not given. Default: 1. */
  count?: number;
}

/**
 * Rolls back the last N applied migrations (default 1) and applies them again: the "re-run the latest migration"
 * step after editing it.
 * @example const redo = createRedoTask(ctx);
 */
export function createRedoTask(ctx: TaskContext, { count }: RedoOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'redo',
      description: 'Roll back the last N applied migrations (default 1) and apply them again',
      flags: ['count', 'singleTransaction', 'lockMode', 'lockTimeout', 'statementTimeout', 'timeout', 'migrationsDir', 'ignorePattern'],
      requires: { migrates: true, applies: true, connects: true },
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'redo');
      const url = migrationUrl(ctx.handoff.database, settings.connection, settings.projectDir);
      installSignalHandlers(ctx);
      await redoMigrations({ settings, url, count, logger: ctx.logger, cleanups: ctx.cleanups });
    },
  );
}
