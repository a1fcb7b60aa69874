// The peer tools the bench measures beside the candidate: node-pg-migrate's own CLI (a devDependency), and dbmate and
// squawk, whose Linux x64 binaries come from bench/peers (optional, dev-only: see its package.json). A missing tool is
// "not available" in its row, never a failed bench.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Goal, PeerPlan, Side } from './case';
import { REPO_ROOT } from './processes';

const run = promisify(execFile);

export interface PeerTool {
  /** Absolute path of the executable (for node-pg-migrate: its bin script, run with this Node). */
  path: string;
  version: string;
}

/** A tool, or why it is not available here (the row's text). */
export type Found = { tool: PeerTool } | { missing: string };

const found = new Map<string, Promise<Found>>();

/** The plan of a peer row: `side(tool)` when the tool was found, else "not available" with the reason. */
export function peerPlan(found: Found, { title, goal }: { title: (tool?: PeerTool) => string; goal?: Goal }, side: (tool: PeerTool) => Side): PeerPlan {
  const base = { ...(goal ? { goal } : {}) };
  return 'tool' in found ? { title: title(found.tool), ...base, side: side(found.tool) } : { title: title(), ...base, missing: found.missing };
}

/** node-pg-migrate's CLI from node_modules (bin/node-pg-migrate.js), run as `node <it> up …`. */
export function nodePgMigrateCli(): Promise<Found> {
  return once('node-pg-migrate', async () => {
    const packageDir = path.join(REPO_ROOT, 'node_modules', 'node-pg-migrate');
    const bin = path.join(packageDir, 'bin', 'node-pg-migrate.js');
    if (!(await exists(bin, constants.R_OK))) return { missing: 'node-pg-migrate is not installed (npm ci)' };
    const { version } = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
    return { tool: { path: bin, version } };
  });
}

/** dbmate's Go binary (npm package @dbmate/linux-x64, the one the `dbmate` wrapper package runs). */
export function dbmate(): Promise<Found> {
  return platformBinary('dbmate', '@dbmate/linux-x64', 'bin/dbmate');
}

/**
 * squawk's binary: npm package @squawk-cli/linux-x64 (the one the `squawk-cli` wrapper package runs), installed under the
 * alias pgmt-bench-squawk so that `gulp lint` does not find it (tasks/lint/squawk.ts runs Squawk when
 * node_modules/@squawk-cli/<platform> is there).
 */
export function squawk(): Promise<Found> {
  return platformBinary('squawk', '@squawk-cli/linux-x64', 'bin/squawk', 'pgmt-bench-squawk');
}

function platformBinary(name: string, packageName: string, binPath: string, installedAs = packageName): Promise<Found> {
  return once(name, async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      return { missing: `${packageName} has Linux x64 binaries only (this is ${process.platform} ${process.arch})` };
    const bin = path.join(REPO_ROOT, 'node_modules', ...installedAs.split('/'), ...binPath.split('/'));
    if (!(await exists(bin, constants.X_OK)))
      return { missing: `${packageName} is not installed (an optional dependency of bench/peers: \`npm ci\` on Linux x64)` };
    try {
      const { stdout } = await run(bin, ['--version']);
      return { tool: { path: bin, version: /(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? stdout.trim() } };
    } catch (error) {
      return { missing: `${bin} --version failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
    }
  });
}

function once(name: string, find: () => Promise<Found>): Promise<Found> {
  let result = found.get(name);
  if (!result) found.set(name, (result = find()));
  return result;
}

async function exists(file: string, mode: number): Promise<boolean> {
  try {
    await access(file, mode);
    return true;
  } catch {
    return false;
  }
}
