import { fleetStatus } from '../../engine/fleet';
import { migrationStatus } from '../../engine/status';
import { isFleet } from '../../settings/settings';
import { TaskError } from '../../util/errors';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

export { STATUS_JSON_VERSION, type StatusDocument } from '../../engine/status';

export interface StatusStepOptions {
  /** Where `--json` writes its document. Default: process.stdout.write, so gulp's log prefix does not touch it. */
  write?: (text: string) => void;
}

/**
 * `migrate:status`: one row per migration (applied, pending, out of order, missing, edited, no checksum), a summary,
 * and the exit status bitmask (1 pending, 2 drift) set through the context. Reads only; `--accept` records checksums.
 * @example const status = createStatusTask(ctx);
 */
export function createStatusTask(ctx: TaskContext, { write = (text) => void process.stdout.write(text) }: StatusStepOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'showStatus',
      description: 'Show each migration: applied, pending, out of order, missing or edited since applied (exit 2 pending, 4 drift)',
      flags: ['json', 'accept', 'name', 'migrationsDir', 'ignorePattern', 'targets', 'targetsQuery', 'schemas', 'concurrency'],
      requires: { migrates: true, connects: true },
      needs: ['settings'],
    },
    async () => {
      const settings = need(ctx, 'settings', 'showStatus');
      if (isFleet(settings.fleet)) {
        if (settings.command.accept) throw new TaskError('--accept records checksums on one database: run it without --targets / --schemas, per database');
        ctx.setExitCode(await fleetStatus({ settings, logger: ctx.logger, secrets: ctx.secrets, ...(settings.command.json && { write }) }));
        return;
      }
      const url = ctx.handoff.database?.url ?? settings.connection.url;
      ctx.setExitCode(await migrationStatus({ settings, url, logger: ctx.logger, write }));
    },
  );
}
