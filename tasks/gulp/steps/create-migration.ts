import { createMigration } from '../../engine/create-migration';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

export interface CreateMigrationStepOptions {
  /** Clock for the timestamp prefix, in ms since the epoch. Default: Date.now. */
  now?: () => number;
}

/**
 * Creates `<migrations>/<13-digit ms timestamp>_<name>.<ts|js|sql>` from a template (--name, --lang). Needs no database.
 * @example const create = createCreateMigrationTask(ctx);
 */
export function createCreateMigrationTask(ctx: TaskContext, { now }: CreateMigrationStepOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'createMigration',
      description: 'Create a timestamped migration file from a template (TypeScript unless --lang js|sql)',
      flags: ['name', 'lang', 'migrationsDir'],
      requires: { connects: false },
      needs: ['settings'],
    },
    async () => {
      const { source, command } = need(ctx, 'settings', 'createMigration');
      await createMigration({ source, name: command.name, lang: command.lang, logger: ctx.logger, now });
    },
  );
}
