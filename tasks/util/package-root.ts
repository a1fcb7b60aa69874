import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

/**
 * This package's own folder (where its package.json is), found upward from this module: the same answer whether the
 * sources run (tasks/util/) or the build (dist/cjs/util/), so the bundled init scripts, the PGlite server and the
 * compose file are found without counting `..`.
 */
export function packageRoot(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && isOurs(manifest)) return (cached = dir);
    if (path.dirname(dir) === dir) throw new Error(`pg-migrate-tasks: no package.json of pg-migrate-tasks above ${__dirname}`);
  }
}

function isOurs(manifest: string): boolean {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pg-migrate-tasks';
  } catch {
    return false;
  }
}
