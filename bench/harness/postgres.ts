// The PostgreSQL binaries the cases use: the server binaries the embedded provider picks, and a psql for the baselines.
import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { serverIdentity } from '../../tasks/providers/os-user';
import { findPgBinaries, type PgBinaries } from '../../tasks/providers/pg-binaries';

const run = promisify(execFile);

export interface PgTools {
  /** What tasks/providers/pg-binaries.ts findPgBinaries picks (DB_PG_BIN, else the newest found). */
  server: PgBinaries;
  /** pg_ctl beside the server binaries, if there is one. */
  pgCtl?: string;
  /** psql from the server's install, else the system's newest. */
  psql?: { path: string; version: string };
  /** The OS user the server runs as (when we are root), as the provider resolves it. */
  serverUser?: string;
}

export async function findPgTools(): Promise<PgTools> {
  const identity = await serverIdentity(process.env.DB_OS_USER || 'postgres');
  const server = await findPgBinaries(process.env.DB_PG_BIN || undefined, identity);
  const pgCtl = (await isExecutable(path.join(server.binDir, 'pg_ctl'))) ? path.join(server.binDir, 'pg_ctl') : undefined;
  return { server, pgCtl, psql: await findPsql(server.binDir), serverUser: identity.uid === undefined ? undefined : identity.name };
}

/** psql in `binDir`, else in `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin/psql. */
async function findPsql(binDir: string): Promise<PgTools['psql']> {
  const candidates = [path.join(binDir, 'psql')];
  try {
    candidates.push(path.join((await run('pg_config', ['--bindir'])).stdout.trim(), 'psql'));
  } catch {
    // No pg_config on PATH.
  }
  try {
    const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(path.join('/usr/lib/postgresql', version, 'bin', 'psql'));
  } catch {
    // Not a Debian-style layout.
  }
  for (const candidate of candidates) {
    if (!(await isExecutable(candidate))) continue;
    const { stdout } = await run(candidate, ['--version']);
    return { path: candidate, version: /(\d+(?:\.\d+)*)/.exec(stdout)?.[1] ?? stdout.trim() };
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
