import { readdirSync } from 'node:fs';
import path from 'node:path';

/** Preloaded in every PGlite server: what the guide's schema uses, and pgcrypto (the starter schema's). */
export const PGLITE_DEFAULT_EXTENSIONS = ['vector', 'uuid-ossp', 'pg_trgm', 'pgcrypto'] as const;

/** Built into PGlite itself: nothing to load. */
const BUILT_IN = ['plpgsql'];

/** Where PGlite's loader for an extension lives, and the name it is exported under. */
export interface PgliteExtensionModule {
  specifier: string;
  exportName: string;
}

/**
 * The module that loads `name` (an extension name as `CREATE EXTENSION` spells it) into PGlite: pgvector comes from
 * `@electric-sql/pglite-pgvector`, the contrib modules from `@electric-sql/pglite/contrib/<name with _ for ->`.
 * Undefined for built-in ones (plpgsql).
 */
export function pgliteExtensionModule(name: string): PgliteExtensionModule | undefined {
  if (BUILT_IN.includes(name)) return undefined;
  if (name === 'vector') return { specifier: '@electric-sql/pglite-pgvector', exportName: 'vector' };
  const exportName = name.replace(/-/g, '_');
  return { specifier: `@electric-sql/pglite/contrib/${exportName}`, exportName };
}

let available: Set<string> | undefined;

/**
 * The extensions the installed PGlite can load, found without loading it (that takes seconds): its contrib modules
 * (`dist/contrib/*.cjs`), pgvector when `@electric-sql/pglite-pgvector` is installed, and plpgsql. Empty when PGlite
 * is not installed.
 */
export function pgliteAvailableExtensions(): ReadonlySet<string> {
  if (available) return available;
  const names = new Set<string>();
  try {
    const contribDir = path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'contrib');
    for (const file of readdirSync(contribDir)) {
      if (file.endsWith('.cjs')) names.add(file.slice(0, -'.cjs'.length).replace(/^uuid_ossp$/, 'uuid-ossp'));
    }
    for (const name of BUILT_IN) names.add(name);
  } catch {
    // PGlite is not installed: it offers nothing.
  }
  try {
    require.resolve('@electric-sql/pglite-pgvector');
    names.add('vector');
  } catch {
    // Without the pgvector package, no vector.
  }
  available = names;
  return names;
}
