import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TaskError } from '../util/errors';

const run = promisify(execFile);

/** The OS identity a child process runs as: `undefined` ids mean "as this process". */
export interface OsIdentity {
  name: string;
  uid?: number;
  gid?: number;
}

/**
 * PostgreSQL refuses to run as root: as root, resolve the unprivileged user the server runs as; otherwise run as
 * ourselves.
 */
export async function serverIdentity(osUser: string): Promise<OsIdentity> {
  if (process.getuid?.() !== 0) return { name: 'current user' };
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', osUser]), run('id', ['-g', osUser])]);
    return { name: osUser, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch (error) {
    throw new TaskError(`running as root, the server must run as an unprivileged OS user, and user "${osUser}" does not exist`, {
      hint: `create it (useradd --system --user-group ${osUser}) or set DB_OS_USER to an existing unprivileged user`,
      cause: error,
    });
  }
}

/** spawn/execFile options that run the child as `identity`. */
export function asIdentity(identity: OsIdentity): { uid?: number; gid?: number } {
  return identity.uid === undefined ? {} : { uid: identity.uid, gid: identity.gid };
}
