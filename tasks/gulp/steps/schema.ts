import { checkSchemaFile, writeSchemaFile } from '../../engine/schema';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

/**
 * `schema:dump`'s own step: writes the schema file (SCHEMA_FILE, default schema.sql) from the database the earlier
 * steps started and migrated.
 * @example const dump = createSchemaDumpTask(ctx);
 */
export function createSchemaDumpTask(ctx: TaskContext): Step<'settings' | 'database', never> {
  return defineStep(
    ctx,
    {
      name: 'dumpSchema',
      description: 'Write the schema of the migrated throw-away database to the schema file',
      flags: ['schemaFile'],
      requires: { migrates: true, startsDatabase: true, connects: true },
      needs: ['settings', 'database'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'dumpSchema');
      await writeSchemaFile({ url: need(ctx, 'database', 'dumpSchema').url, settings, logger: ctx.logger });
    },
  );
}

/**
 * `schema:check`'s own step: fails with a diff when the committed schema file is not what the migrations produce.
 * @example const check = createSchemaCheckTask(ctx);
 */
export function createSchemaCheckTask(ctx: TaskContext): Step<'settings' | 'database', never> {
  return defineStep(
    ctx,
    {
      name: 'checkSchema',
      description: 'Compare the committed schema file with the schema the migrations produce',
      flags: ['schemaFile'],
      requires: { migrates: true, startsDatabase: true, connects: true },
      needs: ['settings', 'database'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'checkSchema');
      await checkSchemaFile({ url: need(ctx, 'database', 'checkSchema').url, settings, logger: ctx.logger });
    },
  );
}
