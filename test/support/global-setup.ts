// Once before the suite (mocha's global fixture): what an earlier, killed test run left behind is stopped and removed,
// with the product's own orphan reaping. The product reaps the temp folder of the run that starts a server; tests also
// start servers under temp roots of their own (TMPDIR=/tmp/hostile-input-…, /tmp/pgmt-reliability-…), which no later
// product run looks into, so those are reaped here too.
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reapOrphanedServers } from '../../tasks/providers/orphans';
import { serverIdentity } from '../../tasks/providers/os-user';
import type { Logger } from '../../tasks/util/logger';

/** Server temp dirs the embedded provider makes (tasks/providers/orphans.ts). */
const SERVER_DIR = /^pgmt-[A-Za-z0-9]{6}$/;

/**
 * Stops the servers of killed runs (their owner process is gone) in `tmp` and in each folder directly inside it that
 * holds server temp dirs, and removes their files; says so for each. Servers of runs still going are left alone.
 */
export async function reapTestLeftovers(logger: Logger, tmp = os.tmpdir()): Promise<void> {
  const { uid } = await serverIdentity(process.env.DB_OS_USER ?? 'postgres').catch(() => ({ uid: undefined }));
  const roots = [tmp];
  for (const entry of safeList(tmp, true)) {
    const root = path.join(tmp, entry);
    if (!SERVER_DIR.test(entry) && safeList(root, true).some((name) => SERVER_DIR.test(name))) roots.push(root);
  }
  for (const root of roots) await reapOrphanedServers(logger, uid, root);
}

function safeList(dir: string, foldersOnly: boolean): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !foldersOnly || entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

export async function mochaGlobalSetup(): Promise<void> {
  const say = (message: string) => console.log(`[test set-up] ${message}`);
  await reapTestLeftovers({ info: say, warn: say, error: say });
}
