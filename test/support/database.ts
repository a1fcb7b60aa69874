import { execFileSync } from 'node:child_process';

import { Cleanups } from '../../tasks/util/cleanups';
import { buildUrl, parseDatabaseUrl, resolveSettings } from '../../tasks/settings/settings';
import { withClient } from '../../tasks/db/pg-client';
import { embeddedProvider } from '../../tasks/providers/embedded';
import type { StartedDatabase } from '../../tasks/providers/types';
import { REPO_ROOT } from './project';

/** A real PostgreSQL server for one test file (embedded provider, local binaries). */
export interface TestServer {
  database: StartedDatabase;
  /** Creates an empty database owned by the application role and returns its URL (application role). */
  freshDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const config = resolveSettings({ env: {}, argv: [], cwd: REPO_ROOT, startsDatabase: true });
  const database = await embeddedProvider.start(config, { logger: { info() {}, warn() {}, error() {} }, cleanups: new Cleanups(), secrets: new Set() });
  const app = parseDatabaseUrl(database.url, [])!;
  return {
    database,
    async freshDatabase(name) {
      await withClient(database.superuserUrl!, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} OWNER ${client.escapeIdentifier(app.user)}`);
      });
      return buildUrl({ ...app, database: name });
    },
    stop: () => database.stop(),
  };
}

/** Runs one query as the URL's role and returns the rows. */
export function query<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  return withClient(url, async (client) => (await client.query(text)).rows as T[]);
}

/** Names of the tables in the public schema, sorted. */
export async function tableNames(url: string): Promise<string[]> {
  const rows = await query<{ name: string }>(url, "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  return rows.map((row) => row.name);
}

/** PIDs of running postgres processes whose command line mentions `marker` (e.g. a temp dir). */
export function serverProcessesFor(marker: string): number[] {
  let output: string;
  try {
    output = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return output
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** The temp dir an embedded server reported in its "Started … data in /tmp/pgmt-…" line. */
export function dataDirFromOutput(output: string): string {
  const match = /data in (\S*pgmt-[A-Za-z0-9]{6})(?=[\s,/]|$)/.exec(output);
  if (!match) throw new Error(`no "data in" line in the output:\n${output}`);
  return match[1]!;
}
