import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TaskError } from '../util/errors';

/** What a run with KEEP_DB=1 records about the database it left running, so later runs can reuse or stop it. */
export interface KeptDatabaseState {
  provider: 'embedded' | 'docker' | 'compose';
  /** Application-role URL, password included: the file is private (mode 0600) and git-ignored. */
  url: string;
  superuserUrl: string;
  /** embedded: postmaster PID and its private temp dir (data dir inside). */
  pid?: number;
  tempDir?: string;
  /** docker: container id. */
  containerId?: string;
  /** compose: project name and file. */
  composeProject?: string;
  composeFile?: string;
  startedAt: string;
}

export const KEPT_STATE_DIR = '.pg-migrate-tasks';

export function keptStatePath(projectDir: string): string {
  return path.join(projectDir, KEPT_STATE_DIR, 'kept-database.json');
}

/** Reads the kept database's record, or undefined when there is none (or it is unreadable). */
export function readKeptStateSync(projectDir: string): KeptDatabaseState | undefined {
  try {
    return JSON.parse(readFileSync(keptStatePath(projectDir), 'utf8')) as KeptDatabaseState;
  } catch {
    return undefined;
  }
}

/** The kept database's record exists but cannot be read (cut short by a crash or a full disk, edited by hand). */
export class KeptStateDamagedError extends TaskError {}

/**
 * Reads the kept database's record, or undefined when there is none. A record that exists but cannot be read is an
 * error naming the file: taken for "none", a run would start a second server and the first would run forever.
 */
export async function readKeptState(projectDir: string): Promise<KeptDatabaseState | undefined> {
  const file = keptStatePath(projectDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw damaged(projectDir, (error as Error).message, error);
  }
  try {
    const state = JSON.parse(text) as KeptDatabaseState | null;
    if (typeof state !== 'object' || state === null || typeof state.provider !== 'string' || typeof state.url !== 'string') throw new Error('not a record');
    return state;
  } catch (error) {
    throw damaged(projectDir, text.trim() === '' ? 'it is empty' : 'it is not a complete record', error);
  }
}

function damaged(projectDir: string, why: string, cause: unknown): KeptStateDamagedError {
  return new KeptStateDamagedError(`the kept database's record ${path.relative(projectDir, keptStatePath(projectDir))} cannot be read (${why})`, {
    hint: '`gulp db:stop` stops the kept server from its own run record and removes the damaged one; then run again',
    cause,
  });
}

/** Writes the record whole or not at all (a temp file renamed over it): a crash mid-write never leaves half a record. */
export async function writeKeptState(projectDir: string, state: KeptDatabaseState): Promise<void> {
  const file = keptStatePath(projectDir);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // The record holds a URL with a password: the folder keeps itself out of git, whatever the project's .gitignore says.
  await writeFile(path.join(path.dirname(file), '.gitignore'), "# Written by pg-migrate-tasks: the kept database's record (it holds passwords).\n*\n", {
    mode: 0o600,
  });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, file);
}

/**
 * Holds the project's kept-database lock while `work` runs: "read the record, start a server, write the record" (and
 * db:stop) one run at a time, so two `db:start` (or KEEP_DB=1 runs) at once start one server, and the second reuses it.
 * A lock whose holder died is taken over once stale (proper-lockfile: an mtime refreshed while held).
 * @example await withKeptStateLock(projectDir, () => startOrReuse());
 */
export async function withKeptStateLock<T>(projectDir: string, work: () => Promise<T>): Promise<T> {
  const dir = path.dirname(keptStatePath(projectDir));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { lock } = await import('proper-lockfile');
  const release = await lock(dir, { lockfilePath: path.join(dir, 'start.lock'), stale: 20_000, retries: { retries: 1_000, minTimeout: 100, maxTimeout: 500 } });
  try {
    return await work();
  } finally {
    await release().catch(() => undefined);
    await tidyKeptStateDir(projectDir);
  }
}

/** Forgets the kept database: removes its record (the folder goes too once nothing else is in it). */
export async function removeKeptState(projectDir: string): Promise<void> {
  await rm(keptStatePath(projectDir), { force: true });
  await tidyKeptStateDir(projectDir);
}

/**
 * Removes the state folder when it holds nothing but its .gitignore. Never a folder in use: the lock lives in it, and
 * rmdir fails on a folder another run has just put its lock in.
 */
async function tidyKeptStateDir(projectDir: string): Promise<void> {
  const dir = path.dirname(keptStatePath(projectDir));
  const entries = await readdir(dir).catch(() => undefined);
  if (!entries || entries.some((entry) => entry !== '.gitignore')) return;
  await rm(path.join(dir, '.gitignore'), { force: true });
  await rmdir(dir).catch(() => undefined);
}
