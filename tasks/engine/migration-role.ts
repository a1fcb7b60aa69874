import type { Config } from '../settings/config';
import type { TaskContext } from '../gulp/context';
import { TaskError } from '../util/errors';
import { readKeptStateSync } from '../settings/kept-state';

/** DB_MIGRATE_AS: who runs the migrations. */
export const MIGRATE_AS = ['app', 'superuser'] as const;
export type MigrateAs = (typeof MIGRATE_AS)[number];

/**
 * The URL migrations run with: the application role's (DB_USER, as in the guide), or with DB_MIGRATE_AS=superuser
 * the superuser of the server this run started, in the application database, for suites that create roles, casts or
 * untrusted extensions. Only a server the tasks started has superuser credentials here (disposable or kept locally).
 */
export function migrationUrl(
  ctx: Pick<TaskContext, 'database'>,
  config: Pick<Config, 'url' | 'migrateAs' | 'connection' | 'connectionSource' | 'projectDir'>,
): string {
  const appUrl = ctx.database?.url ?? config.url;
  if (config.migrateAs !== 'superuser') return appUrl;
  // A database kept by KEEP_DB=1 / db:start was started by these tasks too: its record holds the superuser's URL.
  const superuserUrl = ctx.database?.superuserUrl ?? (config.connectionSource === 'kept database' ? readKeptStateSync(config.projectDir)?.superuserUrl : undefined);
  if (!superuserUrl) throw noSuperuser();
  const url = new URL(superuserUrl);
  url.pathname = `/${encodeURIComponent(config.connection.database)}`;
  return url.toString();
}

/** For ensureEnv: refuses DB_MIGRATE_AS=superuser up front in a task that migrates a database it does not start. */
export function assertMigrateAsPossible(config: Pick<Config, 'migrateAs' | 'connectionSource'>, startsDatabase: boolean): void {
  if (config.migrateAs === 'superuser' && !startsDatabase && config.connectionSource !== 'kept database') throw noSuperuser();
}

function noSuperuser(): TaskError {
  return new TaskError('DB_MIGRATE_AS=superuser runs migrations as the superuser of a database these tasks start, and this run uses one it did not start', {
    hint: 'use it with `gulp migrate:local`, `gulp migrate:verify`, or a database kept by KEEP_DB=1 / `gulp db:start`; against another database, unset it and grant DB_USER what the migrations need',
  });
}
