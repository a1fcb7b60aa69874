import { readFileSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../util/logger';
import { isAlive, processesWhere, stopProcess } from './process-control';

/** The record each throw-away server's temp dir holds: who started it, and its postmaster once spawned. */
export interface RunRecord {
  /** The gulp (node) process that started the server and will stop it. */
  ownerPid: number;
  postmasterPid?: number;
  /** True once the server is handed over to KEEP_DB / db:start: it outlives its owner on purpose. */
  kept?: boolean;
  /** For a kept server: the project it was kept for (db:stop finds it from here when the project's record is damaged). */
  projectDir?: string;
}

const RECORD_FILE = 'run.json';
/** Temp dirs the embedded provider makes: `pgmt-` and mkdtemp's six characters. */
const TEMP_DIR_NAME = /^pgmt-[A-Za-z0-9]{6}$/;

/** Writes (or updates) the record in `tempDir`; synchronous, so it is on disk before anything else can happen. */
export function writeRunRecord(tempDir: string, update: Partial<RunRecord>): void {
  const file = path.join(tempDir, RECORD_FILE);
  let record: RunRecord = { ownerPid: process.pid };
  try {
    record = { ...record, ...(JSON.parse(readFileSync(file, 'utf8')) as RunRecord) };
  } catch {
    // First write.
  }
  writeFileSync(file, JSON.stringify({ ...record, ...update }), { mode: 0o600 });
}

/**
 * Stops the servers (and any initdb or copy) that runs killed with SIGKILL left in `tmpDir`, and removes their temp
 * dirs: a temp dir whose recorded owner process is gone and that was not kept, or a kept one whose server is gone (killed,
 * or the machine restarted without clearing the temp folder). Says so for each. Only dirs owned by
 * the server's user (or this process's) with no access for others are touched, and only processes whose command line
 * names that dir are signalled.
 */
export async function reapOrphanedServers(logger: Logger, serverUid: number | undefined, tmpDir = os.tmpdir()): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(tmpDir)).filter((name) => TEMP_DIR_NAME.test(name));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmpDir, name);
    const record = await orphanRecord(dir, serverUid);
    if (!record) continue;
    const pids = new Set(processesMentioning(dir));
    if (record.postmasterPid !== undefined && pids.has(record.postmasterPid)) {
      // The postmaster first: its children (and the socket, the data) go with it.
      await stopProcess(record.postmasterPid);
      pids.delete(record.postmasterPid);
    }
    for (const pid of pids) if (isAlive(pid)) await stopProcess(pid);
    await rm(dir, { recursive: true, force: true });
    if (record.kept) {
      const kept = `A kept database server (KEEP_DB=1 or db:start${record.projectDir ? `, for ${record.projectDir}` : ''})`;
      logger.info(`${kept} is no longer running (it was killed, or the machine restarted): removed its files, ${dir}`);
      continue;
    }
    logger.info(
      record.postmasterPid !== undefined
        ? `A run that was killed (PID ${record.ownerPid}) left its server running: stopped it (PID ${record.postmasterPid}) and removed ${dir}`
        : `A run that was killed (PID ${record.ownerPid}) left ${dir} behind: removed it`,
    );
  }
}

async function orphanRecord(dir: string, serverUid: number | undefined): Promise<RunRecord | undefined> {
  try {
    const info = await lstat(dir);
    const owners = new Set([serverUid, process.getuid?.()].filter((uid) => uid !== undefined));
    if (!info.isDirectory() || (info.mode & 0o077) !== 0 || (process.getuid && !owners.has(info.uid))) return undefined;
    const record = JSON.parse(await readFile(path.join(dir, RECORD_FILE), 'utf8')) as RunRecord;
    // A kept server outlives its owner on purpose: its files go only once its postmaster is gone.
    if (record.kept) return record.postmasterPid !== undefined && !processesMentioning(dir).includes(record.postmasterPid) ? record : undefined;
    if (typeof record.ownerPid !== 'number' || isOwnerRunning(record.ownerPid)) return undefined;
    return record;
  } catch {
    return undefined;
  }
}

/** The owner counts as running while its PID is alive and still a node process (a reused PID is not our owner). */
function isOwnerRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return /node|gulp/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

/** PIDs whose command line contains `marker` (Linux /proc; elsewhere none). */
function processesMentioning(marker: string): number[] {
  return processesWhere((entry) =>
    readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      .split('\0')
      .some((arg) => arg === marker || arg.startsWith(`${marker}/`)),
  );
}

/** A kept server found from its own run record. */
export interface KeptServer {
  tempDir: string;
  postmasterPid: number;
}

/**
 * The kept servers of `projectDir` that are still running, found from their run records in `tmpDir` (not from the
 * project's kept-database record): what db:stop stops when that record is damaged, or names another server.
 */
export async function findKeptServers(projectDir: string, tmpDir = os.tmpdir()): Promise<KeptServer[]> {
  let names: string[];
  try {
    names = (await readdir(tmpDir)).filter((name) => TEMP_DIR_NAME.test(name));
  } catch {
    return [];
  }
  const found: KeptServer[] = [];
  for (const name of names) {
    const tempDir = path.join(tmpDir, name);
    try {
      const record = JSON.parse(await readFile(path.join(tempDir, RECORD_FILE), 'utf8')) as RunRecord;
      const pid = record.postmasterPid;
      if (record.kept && record.projectDir === projectDir && pid !== undefined && processesMentioning(tempDir).includes(pid))
        found.push({ tempDir, postmasterPid: pid });
    } catch {
      // Not readable by us, or not a record: not ours to stop.
    }
  }
  return found;
}
