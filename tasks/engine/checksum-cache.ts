// Checksums of migration files remembered between runs of migrate:status, keyed by what the file system says about each
// file (size, modification and change times, inode), so that a folder of 10 000 unchanged migrations is stat'ed rather
// than read and hashed (reading them was a quarter of the command). Any change to a file's content changes its ctime,
// which no tool can set back; a file changed within the last two seconds is never remembered (its next change could
// fall on the same timestamp). Kept in node_modules/.cache/pg-migrate-tasks/checksums/, one file per migrations folder,
// written whole through a rename; anything unreadable is ignored, and deleting it is always safe.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Bumped when the file's shape or the checksum's definition changes: older files are then ignored. */
const FORMAT = 1;
/** A file modified this recently is hashed but not remembered. */
const RACY_MS = 2_000;

interface CacheDocument {
  format: number;
  folder: string;
  /** File name → [stat key, checksum]. */
  entries: Record<string, [string, string]>;
}

/**
 * The checksum of every file in `files` (paths in `folder`), through the cache: a file whose size, times and inode are
 * those remembered is not read. `hash` computes one for the others (and throws for a file that cannot be read).
 * @example const sums = cachedChecksums('/app/migrations', paths, hashMigrationFileSync, { projectDir: '/app' })
 */
export function cachedChecksums(
  folder: string,
  files: readonly string[],
  hash: (file: string) => string,
  { projectDir, now = Date.now() }: { projectDir: string; /** For tests: the time that decides what is recent. */ now?: number },
): string[] {
  const cacheFile = checksumCacheFile(projectDir, folder);
  const stored = cacheFile ? readCache(cacheFile, folder) : {};
  const entries: Record<string, [string, string]> = {};
  let changed = false;
  const sums = files.map((file) => {
    const name = path.basename(file);
    let stats: Stats | undefined;
    try {
      stats = statSync(file);
    } catch {
      // Unreadable: `hash` says why.
    }
    const key = stats ? statKey(stats) : undefined;
    const known = Object.hasOwn(stored, name) ? stored[name] : undefined;
    if (key !== undefined && known?.[0] === key) {
      entries[name] = known;
      return known[1];
    }
    const sum = hash(file);
    if (key !== undefined && stats && now - Math.max(stats.mtimeMs, stats.ctimeMs) > RACY_MS) entries[name] = [key, sum];
    changed = true;
    return sum;
  });
  if (cacheFile && (changed || Object.keys(stored).length !== Object.keys(entries).length)) writeCache(cacheFile, { format: FORMAT, folder, entries });
  return sums;
}

/** Where the checksums of `folder` are kept: in the nearest node_modules at or above the project (none: not kept). */
export function checksumCacheFile(projectDir: string, folder: string): string | undefined {
  for (let dir = path.resolve(projectDir); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules'))) {
      const id = createHash('sha256').update(path.resolve(folder)).digest('hex').slice(0, 20);
      return path.join(dir, 'node_modules', '.cache', 'pg-migrate-tasks', 'checksums', `${id}.json`);
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

function statKey(stats: Stats): string {
  return `${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.ino}`;
}

function readCache(file: string, folder: string): Record<string, [string, string]> {
  try {
    const document = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheDocument> | null;
    if (!document || document.format !== FORMAT || document.folder !== folder || typeof document.entries !== 'object' || !document.entries) return {};
    const entries: Record<string, [string, string]> = {};
    for (const [name, entry] of Object.entries(document.entries)) {
      if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && typeof entry[1] === 'string') entries[name] = entry;
    }
    return entries;
  } catch {
    return {};
  }
}

function writeCache(file: string, document: CacheDocument): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temporary, JSON.stringify(document));
    renameSync(temporary, file);
  } catch {
    // A read-only node_modules: the next run hashes again.
  }
}
