import type { StartedDatabase } from '../providers/types';
import { readKeptStateSync } from '../settings/kept-state';
import type { ConnectionSettings } from '../settings/settings';
import { TaskError } from '../util/errors';

/**
 * The URL migrations run with: the application role's (DB_USER, as in the guide), or with DB_MIGRATE_AS=superuser
 * the superuser of the server this run started, in the application database, for suites that create roles, casts or
 * untrusted extensions. Only a server the tasks started has superuser credentials here (disposable or kept locally).
 * @example const url = migrationUrl(startedDatabase, settings.connection, settings.projectDir);
 */
export function migrationUrl(
  database: Pick<StartedDatabase, 'url' | 'superuserUrl'> | undefined,
  connection: Pick<ConnectionSettings, 'url' | 'migrateAs' | 'database' | 'source'>,
  projectDir: string,
): string {
  const appUrl = database?.url ?? connection.url;
  if (connection.migrateAs !== 'superuser') return appUrl;
  // A database kept by KEEP_DB=1 / db:start was started by these tasks too: its record holds the superuser's URL.
  const superuserUrl = database?.superuserUrl ?? (connection.source === 'kept database' ? readKeptStateSync(projectDir)?.superuserUrl : undefined);
  if (!superuserUrl) throw noSuperuser();
  const url = new URL(superuserUrl);
  url.pathname = `/${encodeURIComponent(connection.database)}`;
  return url.toString();
}

/** For ensureEnv: refuses DB_MIGRATE_AS=superuser up front in a command that migrates a database it does not start. */
export function assertMigrateAsPossible(connection: Pick<ConnectionSettings, 'migrateAs' | 'source'>, startsDatabase: boolean): void {
  if (connection.migrateAs === 'superuser' && !startsDatabase && connection.source !== 'kept database') throw noSuperuser();
}

function noSuperuser(): TaskError {
  return new TaskError('DB_MIGRATE_AS=superuser runs migrations as the superuser of a database these tasks start, and this run uses one it did not start', {
    hint: 'use it with `gulp migrate:local`, `gulp migrate:verify`, or a database kept by KEEP_DB=1 / `gulp db:start`; against another database, unset it and grant DB_USER what the migrations need',
  });
}
