import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../util/package-root';
import { buildUrl, type ConnectionParts } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { withClient } from './pg-client';

/** One `*.sql` file of the init-scripts folder, read. */
export interface InitScript {
  path: string;
  sql: string;
}

/**
 * Makes a freshly started server look like the guide's Docker container: creates the application database if it is
 * missing, then runs the scripts (see {@link readInitScripts}) as superuser inside it, with the session settings
 * `pgmt.app_user` and `pgmt.app_password` the scripts read to create the application role.
 */
export async function prepareDatabase(
  superuser: ConnectionParts,
  app: Pick<ConnectionParts, 'database' | 'user' | 'password'>,
  scripts: InitScript[],
  logger: Logger,
): Promise<void> {
  await withClient(buildUrl({ ...superuser, database: 'postgres' }), async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [app.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(app.database)}`);
  });

  await withClient(buildUrl({ ...superuser, database: app.database }), async (client) => {
    await client.query("SELECT set_config('pgmt.app_user', $1, false), set_config('pgmt.app_password', $2, false)", [app.user, app.password]);
    for (const script of scripts) {
      try {
        await client.query(script.sql);
      } catch (error) {
        throw new TaskError(`init script ${path.relative(process.cwd(), script.path)} failed: ${messageOf(error)}`, {
          hint: 'fix the script (it runs as superuser in the application database on every start), then run the command again',
          cause: error,
        });
      }
    }
  });
  logger.debug?.(`Ran ${scripts.length} init script(s): ${scripts.map((script) => path.basename(script.path)).join(', ')}`);
}

/** This package's own scripts: used when a project has no init-scripts folder, so the role is always created. */
export const BUNDLED_INIT_SCRIPTS_DIR = path.join(packageRoot(), 'postgres', 'init');

/** Every `*.sql` in `scriptsDir`, sorted by name; this package's own when the folder does not exist. */
export async function readInitScripts(scriptsDir: string): Promise<InitScript[]> {
  const paths = await listScripts(scriptsDir);
  return Promise.all(paths.map(async (scriptPath) => ({ path: scriptPath, sql: await readFile(scriptPath, 'utf8') })));
}

async function listScripts(scriptsDir: string): Promise<string[]> {
  let dir = scriptsDir;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    dir = BUNDLED_INIT_SCRIPTS_DIR;
    names = await readdir(dir);
  }
  return names
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => path.join(dir, name));
}
