import { createRequire } from 'node:module';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** What node-pg-migrate's jiti transpiles (jiti: `/\.[cm]?tsx?$/`). */
const TYPESCRIPT = /\.[cm]?tsx?$/;

interface Jiti {
  options: { jsx?: unknown };
  transform(options: { filename: string; source: string; ts: boolean; async: boolean; jsx?: unknown }): string;
}

/**
 * Fills jiti's transpile cache on disk with the TypeScript migrations of `migrationsDir`, as node-pg-migrate's runner
 * would when it loads them (its jiti, made from the working directory, with the same options, so the same cache file
 * names): run while the server starts, whose start-up is mostly waiting for initdb or postgres, the runner then finds
 * every file transpiled. Without a cache (the first run after `npm ci`) that is ~40 ms of babel per file; with one it
 * costs a read per file. One file per turn of the event loop; `stopped()` ends it early. Nothing is run or imported;
 * a file that does not transpile is left for the runner to report. Never throws.
 */
export async function warmTranspileCache(migrationsDir: string, stopped: () => boolean): Promise<void> {
  try {
    const names = (await readdir(migrationsDir)).filter((name) => TYPESCRIPT.test(name)).sort();
    if (names.length === 0) return;
    const fromNodePgMigrate = createRequire(require.resolve('node-pg-migrate/package.json'));
    const { createJiti } = fromNodePgMigrate('jiti') as { createJiti: (id: string) => Jiti };
    const jiti = createJiti(process.cwd());
    for (const name of names) {
      await new Promise((resolve) => setImmediate(resolve));
      if (stopped()) return;
      const filename = path.join(migrationsDir, name);
      try {
        jiti.transform({ filename, source: await readFile(filename, 'utf8'), ts: true, async: true, jsx: jiti.options.jsx });
      } catch {
        // The runner reports it.
      }
    }
  } catch {
    // No folder, or no jiti: the runner transpiles as it loads.
  }
}
