import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';

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

export async function readKeptState(projectDir: string): Promise<KeptDatabaseState | undefined> {
  try {
    return JSON.parse(await readFile(keptStatePath(projectDir), 'utf8')) as KeptDatabaseState;
  } catch {
    return undefined;
  }
}

export async function writeKeptState(projectDir: string, state: KeptDatabaseState): Promise<void> {
  const file = keptStatePath(projectDir);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // The record holds a URL with a password: the folder keeps itself out of git, whatever the project's .gitignore says.
  await writeFile(path.join(path.dirname(file), '.gitignore'), "# Written by pg-migrate-tasks: the kept database's record (it holds passwords).\n*\n", {
    mode: 0o600,
  });
  await writeFile(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export async function removeKeptState(projectDir: string): Promise<void> {
  await rm(path.join(projectDir, KEPT_STATE_DIR), { recursive: true, force: true });
}
