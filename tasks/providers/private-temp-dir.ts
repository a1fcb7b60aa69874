import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statfsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskError, messageOf } from '../util/errors';
import { asIdentity, type OsIdentity } from './os-user';
import { shellArg } from '../util/shell';

const HINT = 'set TMPDIR to a writable folder on a local disk (e.g. TMPDIR=/var/tmp), then run the command again';

/**
 * Creates the server's private temp dir (`<TMPDIR>/pgmt-XXXXXX`, mode 0700, owned by the server's OS user when we run
 * as root) and checks that this user can reach it. Synchronous, so that a caller can register its cleanup with no
 * await in between. A TMPDIR where no folder can be created (missing, read-only, a virtual file system like /proc)
 * or that the server's user cannot traverse is refused with a TaskError saying which folder and what to set; nothing
 * is left behind then.
 * @example const tempDir = makePrivateTempDir(identity)
 */
export function makePrivateTempDir(identity: OsIdentity, base = os.tmpdir()): string {
  assertRoomFor(base);
  let dir: string;
  try {
    dir = mkdtempSync(path.join(base, 'pgmt-'));
  } catch (error) {
    throw new TaskError(`cannot create the database's temp dir in ${base} (TMPDIR): ${describeFsError(error)}`, { hint: HINT, cause: error });
  }
  try {
    chmodSync(dir, 0o700);
    if (identity.uid === undefined) return dir;
    chownSync(dir, identity.uid, identity.gid!);
    const blocked = firstUnreachable(dir, identity);
    if (blocked) {
      throw new TaskError(
        `user "${identity.name}", which runs the server, cannot reach its temp dir in ${base}: ${blocked.path} (mode ${blocked.mode}, owner uid ${blocked.uid}) is not searchable for it`,
        { hint: `set TMPDIR to a folder every user can traverse (e.g. TMPDIR=/tmp), or allow it: chmod o+x ${shellArg(blocked.path)}` },
      );
    }
    return dir;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    if (error instanceof TaskError) throw error;
    throw new TaskError(`cannot prepare the database's temp dir ${dir}: ${describeFsError(error)}`, { hint: HINT, cause: error });
  }
}

/** A prepared cluster takes ~35 MB (initdb's files, 1 MB WAL segments) before any migration: less room cannot work. */
export const MIN_FREE_BYTES = 48 * 1024 * 1024;

/** Bytes an unprivileged user may still write in the file system of `dir`, or undefined when it cannot be told (or it is no disk). */
export function roomIn(dir: string): number | undefined {
  try {
    const { bavail, bsize, blocks } = statfsSync(dir);
    // A virtual file system (/proc, /sys) has no blocks at all: not a disk that is full.
    return Number(blocks) === 0 ? undefined : Number(bavail) * Number(bsize);
  } catch {
    return undefined;
  }
}

/**
 * Refuses a TMPDIR whose file system has less room than a server's files take ({@link MIN_FREE_BYTES}): initdb would
 * abort halfway with a bare "Aborted". `room` is what {@link roomIn} says (undefined: it cannot be told, no refusal).
 */
export function assertRoomFor(base: string, room = roomIn(base)): void {
  if (room === undefined || room >= MIN_FREE_BYTES) return;
  throw new TaskError(
    `not enough free space in ${base} (TMPDIR) for the database: ${formatMegabytes(room)} free, and a server's files need about ${formatMegabytes(MIN_FREE_BYTES)}`,
    { hint: 'free space there, or set TMPDIR to a folder on a disk with room (e.g. TMPDIR=/var/tmp), then run the command again' },
  );
}

/**
 * For a failure that a full disk could explain (initdb aborting, a copy cut short): a note on how little room the
 * folder has left, or '' when it has room (or cannot be told).
 */
export function lowSpaceNote(dir: string): string {
  const room = roomIn(dir);
  return room !== undefined && room < 2 * MIN_FREE_BYTES
    ? ` (${dir} has only ${formatMegabytes(room)} free: free space or set TMPDIR to a folder with room)`
    : '';
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/**
 * The first folder on the way to `dir` (from `/` down) that `identity` cannot search, or undefined. Asked of the OS as
 * that user (`test -x`, ~2 ms), so groups and ACLs count; where `test` cannot be run, nothing is reported.
 */
function firstUnreachable(dir: string, identity: OsIdentity): { path: string; mode: string; uid: number } | undefined {
  const canSearch = (folder: string) => {
    try {
      execFileSync('test', ['-x', folder], { ...asIdentity(identity), stdio: 'ignore' });
      return true;
    } catch (error) {
      // A non-zero exit is the answer "no"; failing to run `test` at all says nothing about the folder.
      return typeof (error as { status?: unknown }).status !== 'number';
    }
  };
  if (canSearch(dir)) return undefined;
  const chain: string[] = [];
  for (let folder = dir; ; folder = path.dirname(folder)) {
    chain.unshift(folder);
    if (path.dirname(folder) === folder) break;
  }
  const blocked = chain.find((folder) => !canSearch(folder));
  if (!blocked) return undefined;
  const info = statSync(blocked);
  return { path: blocked, mode: `0${(info.mode & 0o777).toString(8)}`, uid: info.uid };
}

/** A file-system error in words, with its code. */
function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such folder, or folders cannot be created there (ENOENT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EROFS':
      return 'read-only file system (EROFS)';
    case 'ENOTDIR':
      return 'not a folder (ENOTDIR)';
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)';
    default:
      return messageOf(error);
  }
}
