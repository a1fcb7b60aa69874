import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PgBinaries } from './pg-binaries';
import { runCommand, type RunningCommand } from './run-command';

const run = promisify(execFile);

/** Bumped when the layout of a cached template changes, so old ones are never read. */
const TEMPLATE_FORMAT = 1;
/** Templates kept per cache folder (one per binaries version and initdb options in use); older ones are removed. */
const KEEP_TEMPLATES = 4;
const PASSWORD_FILE = 'superuser-password';
/** The ready copy of a template's data dir that the next run takes (a rename) instead of copying. */
const SPARE = 'spare';
const SPARE_STAGING = '.spare-staging-';

/**
 * A cluster made once (initdb, then the init scripts) and kept, shut down cleanly: each run copies its data dir
 * instead of running initdb, CREATE DATABASE and the scripts. Its passwords are the template's; the run replaces them
 * with its own as soon as the server is up.
 */
export interface ClusterTemplate {
  dataDir: string;
  superPassword: string;
}

/**
 * The cache folder: DB_CLUSTER_CACHE, else node_modules/.cache/pg-migrate-tasks/clusters in the nearest node_modules
 * above the project (where jiti keeps its transpile cache too), else ~/.cache/pg-migrate-tasks/clusters.
 */
export function clusterCacheDir(projectDir: string, configured: string | undefined): string {
  if (configured) return path.resolve(projectDir, configured);
  for (let dir = path.resolve(projectDir); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'pg-migrate-tasks', 'clusters');
    if (path.dirname(dir) === dir) break;
  }
  return path.join(os.homedir(), '.cache', 'pg-migrate-tasks', 'clusters');
}

/**
 * Names a template by everything that shapes it: the binaries (path and version), initdb's options, and `prepared`
 * (what was done to it after initdb: the init scripts' names and content, the application database and role).
 */
export function templateKey(binaries: Pick<PgBinaries, 'binDir' | 'version'>, initdbOptions: readonly string[], prepared: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify([TEMPLATE_FORMAT, binaries.binDir, binaries.version, initdbOptions, prepared]));
  return `pg${binaries.version}-${hash.digest('hex').slice(0, 16)}`;
}

/**
 * The complete template for `key`, or undefined. Only a folder that was renamed into place whole counts, and only in
 * a cache folder that is ours and private (it holds a password).
 */
export async function findTemplate(cacheDir: string, key: string): Promise<ClusterTemplate | undefined> {
  if (!(await isPrivateFolder(cacheDir))) return undefined;
  const dir = path.join(cacheDir, key);
  try {
    const superPassword = (await readFile(path.join(dir, PASSWORD_FILE), 'utf8')).trim();
    await stat(path.join(dir, 'data', 'PG_VERSION'));
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    return superPassword ? { dataDir: path.join(dir, 'data'), superPassword } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a template that a server failed to start from (a damaged pg_control or catalog, unreadable files): the next
 * run makes a new one instead of failing the same way. Its spare copy goes with it. Moved aside first, so a run
 * copying it meanwhile fails its copy (and runs initdb) rather than reading half-deleted files.
 */
export async function discardTemplate(template: ClusterTemplate): Promise<void> {
  const dir = path.dirname(template.dataDir);
  const aside = `${dir}.discarded-${process.pid}`;
  await rename(dir, aside).catch(() => undefined);
  await rm(aside, { recursive: true, force: true });
}

/**
 * Copies the template's data dir to `dataDir`, keeping owners and modes (the server's user owns it; mode 0700). The
 * copy is bound by per-file system calls (~1 300 small files), so it runs as several `cp` at once: one per database
 * under base/, one for the rest (~0.2 s instead of ~0.33 s on 2 cores).
 */
export function copyTemplate(template: ClusterTemplate, dataDir: string): RunningCommand {
  const cp = (sources: string[], target: string) => runCommand('cp', ['-a', ...(process.platform === 'linux' ? ['--reflink=auto'] : []), ...sources, target]);
  const base = path.join(template.dataDir, 'base');
  let copies: RunningCommand[] = [];
  let killed = false;
  const done = (async () => {
    const [top, databases, dirInfo, baseInfo] = await Promise.all([readdir(template.dataDir), readdir(base), stat(template.dataDir), stat(base)]);
    if (killed) throw new Error('the copy was stopped');
    for (const [dir, info] of [
      [dataDir, dirInfo],
      [path.join(dataDir, 'base'), baseInfo],
    ] as const) {
      mkdirSync(dir, { mode: info.mode & 0o777 });
      if (process.getuid?.() === 0) chownSync(dir, info.uid, info.gid);
    }
    const rest = top.filter((entry) => entry !== 'base').map((entry) => path.join(template.dataDir, entry));
    copies = [cp(rest, dataDir), ...databases.map((database) => cp([path.join(base, database)], path.join(dataDir, 'base')))];
    await Promise.all(copies.map((copy) => copy.done));
  })();
  done.catch(() => undefined);
  return {
    done,
    kill: async () => {
      killed = true;
      await Promise.all(copies.map((copy) => copy.kill()));
      await done.catch(() => undefined);
    },
  };
}

/**
 * Stores a prepared, cleanly shut down data dir as the template for `key`. Safe when two runs do
 * it at once: each copies into its own staging folder and renames it into place; the loser deletes its copy. Failure
 * to store is not an error: the next run runs initdb again.
 */
export async function saveTemplate(cacheDir: string, key: string, dataDir: string, superPassword: string): Promise<boolean> {
  const staging = path.join(cacheDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    if (!(await isPrivateFolder(cacheDir))) return false;
    await mkdir(staging, { mode: 0o700 });
    await run('cp', ['-a', dataDir, path.join(staging, 'data')]);
    await writeFile(path.join(staging, PASSWORD_FILE), superPassword, { mode: 0o600 });
    let stored = true;
    try {
      await rename(staging, path.join(cacheDir, key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
      stored = false; // a run at the same time stored it first: its copy serves
    }
    await pruneTemplates(cacheDir, key);
    return stored;
  } catch {
    return false;
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Removes all but the KEEP_TEMPLATES most recently used templates, and staging folders a killed run left. */
async function pruneTemplates(cacheDir: string, justSaved: string): Promise<void> {
  const entries = await readdir(cacheDir, { withFileTypes: true });
  const dated = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory() && entry.name !== justSaved)
      .map(async (entry) => ({ name: entry.name, mtimeMs: (await stat(path.join(cacheDir, entry.name))).mtimeMs })),
  );
  const hourAgo = Date.now() - 3_600_000;
  const staleStaging = dated.filter((entry) => entry.name.startsWith('.staging-') && entry.mtimeMs < hourAgo);
  const templates = dated.filter((entry) => !entry.name.startsWith('.')).sort((a, b) => b.mtimeMs - a.mtimeMs);
  const surplus = templates.slice(KEEP_TEMPLATES - 1);
  for (const entry of [...staleStaging, ...surplus]) await rm(path.join(cacheDir, entry.name), { recursive: true, force: true });
}

/** A folder owned by this process's user, not a symlink, with no access for group or others; fixed up if it is ours. */
async function isPrivateFolder(dir: string): Promise<boolean> {
  try {
    const info = await lstat(dir);
    if (!info.isDirectory() || (process.getuid && info.uid !== process.getuid())) return false;
    if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves the spare copy of the template (made by an earlier run, see {@link makeSpare}) to `dataDir`: a rename, ~1 ms,
 * instead of a copy. False when there is none (first run after the template was made, a run at the same time took it)
 * or it is on another file system than `dataDir`.
 */
export async function takeSpare(template: ClusterTemplate, dataDir: string): Promise<boolean> {
  try {
    await rename(path.join(path.dirname(template.dataDir), SPARE), dataDir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts copying the template to its spare, for the next run to take with {@link takeSpare}: into a staging folder
 * beside it, renamed into place when complete, at the lowest CPU priority (it runs while this run's migrations do,
 * and on 2 cores those leave one mostly idle). Made only when the spare can be renamed into `runDir`'s file system and
 * there is none yet; undefined otherwise. Its `done` never rejects (a failed spare only means the next run copies);
 * `kill` stops it and removes what it wrote.
 */
export async function makeSpare(template: ClusterTemplate, runDir: string): Promise<RunningCommand | undefined> {
  const templateDir = path.dirname(template.dataDir);
  try {
    const [templateInfo, runInfo] = await Promise.all([stat(templateDir), stat(runDir)]);
    if (templateInfo.dev !== runInfo.dev || existsSync(path.join(templateDir, SPARE))) return undefined;
    await removeStaleStaging(templateDir);
  } catch {
    return undefined;
  }
  const staging = path.join(templateDir, `${SPARE_STAGING}${process.pid}-${randomBytes(4).toString('hex')}`);
  const copy = runCommand('cp', ['-a', ...(process.platform === 'linux' ? ['--reflink=auto'] : []), template.dataDir, staging]);
  if (copy.pid !== undefined) lowestPriority(copy.pid);
  const removeStaging = () => rm(staging, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 }).catch(() => undefined);
  const done = (async () => {
    try {
      await copy.done;
      await rename(staging, path.join(templateDir, SPARE));
    } catch {
      // A run at the same time made it first (ENOTEMPTY), or the copy failed or was killed: the next run copies.
      await removeStaging();
    }
  })();
  return {
    done,
    kill: async () => {
      await copy.kill();
      await done;
    },
  };
}

/** Staging folders of spares that a killed run left (older than an hour: a copy takes well under a second). */
async function removeStaleStaging(templateDir: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(templateDir)) {
    if (!name.startsWith(SPARE_STAGING)) continue;
    const dir = path.join(templateDir, name);
    const info = await stat(dir).catch(() => undefined);
    if (info && info.mtimeMs < hourAgo) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function lowestPriority(pid: number): void {
  try {
    os.setPriority(pid, 19);
  } catch {
    // Not allowed here: it runs at normal priority.
  }
}
