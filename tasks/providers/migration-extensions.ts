import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The files node-pg-migrate loads as migrations (and their JavaScript variants), by extension. */
const SQL_FILES = new Set(['.sql']);
const SCRIPT_FILES = new Set(['.ts', '.js', '.cjs', '.mjs', '.cts', '.mts']);

/** `CREATE EXTENSION [IF NOT EXISTS] name`, the name quoted (also `\"name\"` inside a JS string) or bare. */
const CREATE_EXTENSION = /\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?(?:\\?"((?:[^"\\]|"")+)\\?"|([a-z_][a-z0-9_$]*))/gi;
/** `pgm.createExtension('name')` or `pgm.createExtension(['a', 'b'], …)`. */
const CREATE_EXTENSION_CALL = /\bcreateExtension\s*\(\s*(\[[^\]]*\]|'[^']*'|"[^"]*"|`[^`]*`)/g;
const QUOTED = /'([^']*)'|"([^"]*)"|`([^`]*)`/g;

/** An extension the migrations create, and the first file (in folder order) that creates it. */
export interface RequiredExtension {
  name: string;
  file: string;
}

/**
 * The extensions the migrations in `migrationsDir` create, read from their text without loading them (fast; no
 * database, no TypeScript): `CREATE EXTENSION` in `.sql` files and in SQL strings of `.ts`/`.js` files, and
 * `pgm.createExtension(...)` calls. Commented-out statements do not count. A missing folder has none.
 * @example await requiredExtensions('migrations') // [{ name: 'vector', file: '1732400000000_enable_extensions.sql' }]
 */
export async function requiredExtensions(migrationsDir: string): Promise<RequiredExtension[]> {
  let entries;
  try {
    entries = await readdir(migrationsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files = entries
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .filter((name) => SQL_FILES.has(path.extname(name)) || SCRIPT_FILES.has(path.extname(name)))
    .sort();
  const found = new Map<string, string>();
  for (const file of files) {
    const text = await readFile(path.join(migrationsDir, file), 'utf8');
    for (const name of extensionsIn(text, SQL_FILES.has(path.extname(file)) ? 'sql' : 'script')) {
      if (!found.has(name)) found.set(name, file);
    }
  }
  return [...found].map(([name, file]) => ({ name, file }));
}

/** The extension names one migration's text creates. */
export function extensionsIn(text: string, kind: 'sql' | 'script'): string[] {
  const code = kind === 'sql' ? stripSqlComments(text) : stripScriptComments(text);
  const names = new Set<string>();
  for (const match of code.matchAll(CREATE_EXTENSION)) {
    names.add(match[1] !== undefined ? match[1].replace(/""/g, '"') : match[2]!.toLowerCase());
  }
  if (kind === 'script') {
    for (const call of code.matchAll(CREATE_EXTENSION_CALL)) {
      for (const quoted of call[1]!.matchAll(QUOTED)) {
        const name = quoted[1] ?? quoted[2] ?? quoted[3];
        if (name) names.add(name);
      }
    }
  }
  return [...names];
}

function stripSqlComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}

/** Block comments, and line comments that start a line (a `//` after code may be inside a string, e.g. a URL). */
function stripScriptComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/^\s*\/\/[^\n]*/gm, ' ');
}
