import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { TaskError } from '../util/errors';

/** A file node-pg-migrate's runner would load as a migration. */
export interface MigrationFile {
  /** The name the ledger records: the file name without its extension. */
  name: string;
  /** The file name in the folder. */
  file: string;
  /** Absolute path. */
  path: string;
}

/** An entry of the migrations folder that is not a migration, and why. */
export interface IgnoredFile {
  /** The entry's name in the folder (a folder ends with `/`). */
  file: string;
  reason: string;
  /** True when node-pg-migrate fails while it is there (not merely skips it): `gulp migrate` cannot run. */
  blocksMigrate: boolean;
  /** True for the rollbacks of `.sql` migrations: the `down/` folder and `<name>.down.sql` files. */
  rollback?: boolean;
}

export interface MigrationFolder {
  /** Absolute path of the folder that was read. */
  dir: string;
  /** In node-pg-migrate's order. */
  migrations: MigrationFile[];
  ignored: IgnoredFile[];
}

/** Extensions node-pg-migrate 9 loads (migrationLoader's default strategies); jiti fails on others ("Unknown file extension"). */
const LOADABLE_EXTENSIONS = new Set(['.sql', '.js', '.ts', '.cjs', '.mjs', '.cts', '.mts']);

/** The folder beside the migrations that holds the rollbacks of `.sql` migrations, under the same file names. */
export const ROLLBACKS_FOLDER = 'down';

/**
 * What the runner skips unless `--ignore-pattern` says otherwise (node-pg-migrate's `ignorePattern`: a regular
 * expression matched against the whole file name): dotfiles, names without a numeric timestamp prefix (package.json,
 * README.md, eslint.config.js), rollback files (`<name>.down.sql`) and extensions node-pg-migrate does not load.
 * Sub-folders (`down/` and any other) are never read by the runner.
 */
export const DEFAULT_IGNORE_PATTERN = '(?:\\..*|(?!\\d).*|.*\\.down\\.sql|(?!.*\\.(?:sql|js|ts|cjs|mjs|cts|mts)$).*)';

/**
 * Lists a migrations folder as node-pg-migrate's runner does, and explains everything else in it.
 *
 * Mirrors `getMigrationFilePaths` (node-pg-migrate/src/migration.ts, no glob, no ignorePattern): files and symlinks
 * directly in the folder whose name does not start with `.`, ordered by node-pg-migrate's own exported comparator
 * (numeric prefix, then numeric-aware name). It is mirrored rather than called because it throws as soon as one file
 * has no numeric prefix, and status must show that file instead of failing (test/unit/migration-folder.test.ts checks
 * that both list the same files in the same order).
 */
export async function readMigrationFolder(dir: string, ignorePattern?: string): Promise<MigrationFolder> {
  const { compareMigrationFileNames } = await import('node-pg-migrate/utils/comparators');
  const entries = await readdir(dir, { withFileTypes: true });
  const ignore = new RegExp(`^${ignorePattern ?? DEFAULT_IGNORE_PATTERN}$`);
  const names = new Set(entries.map((entry) => entry.name));
  const ordered: MigrationFile[] = [];
  const ignored: IgnoredFile[] = [];
  for (const entry of entries) {
    const broken = entry.isSymbolicLink() ? brokenLink(path.join(dir, entry.name)) : undefined;
    if (broken && !ignore.test(entry.name)) {
      ignored.push({ file: entry.name, reason: broken, blocksMigrate: true });
      continue;
    }
    const kind = entry.isFile() || entry.isSymbolicLink() ? 'file' : entry.isDirectory() ? 'folder' : 'other';
    const reason = kind === 'file' && ignore.test(entry.name) ? whySkipped(dir, entry.name, names, ignorePattern) : whyNotAMigration(entry.name, kind);
    if (reason) ignored.push({ file: kind === 'folder' ? `${entry.name}/` : entry.name, ...reason });
    else ordered.push({ name: path.basename(entry.name, path.extname(entry.name)), file: entry.name, path: path.resolve(dir, entry.name) });
  }
  ordered.sort((a, b) => compareMigrationFileNames(a.file, b.file));
  ignored.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { dir: path.resolve(dir), migrations: ordered, ignored };
}

/** Why a symbolic link cannot be read (it loops, or its target is missing), or undefined when it can. */
function brokenLink(file: string): string | undefined {
  try {
    statSync(file);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'a symbolic link that loops (ELOOP): nothing can be read from it';
    let target = '';
    try {
      target = ` (${readlinkSync(file)})`;
    } catch {
      // Gone meanwhile.
    }
    return code === 'ENOENT'
      ? `a symbolic link to a file that does not exist${target}`
      : `a symbolic link that cannot be followed${target}: ${code ?? String(error)}`;
  }
}

/** Why a file the ignore pattern matches is skipped. */
function whySkipped(dir: string, file: string, names: ReadonlySet<string>, ignorePattern: string | undefined): Omit<IgnoredFile, 'file'> {
  if (ignorePattern !== undefined) return { reason: 'matches --ignore-pattern: skipped', blocksMigrate: false };
  const rollbackOf = /^(.*)\.down\.sql$/i.exec(file)?.[1];
  if (rollbackOf !== undefined && names.has(`${rollbackOf}.sql`)) {
    if (hasDownSection(path.join(dir, `${rollbackOf}.sql`))) {
      return {
        reason: `not used: ${rollbackOf}.sql has its own "-- Down Migration" section, which wins (keep one of the two)`,
        blocksMigrate: false,
        rollback: true,
      };
    }
    return { reason: `the rollback of ${rollbackOf}.sql`, blocksMigrate: false, rollback: true };
  }
  if (rollbackOf !== undefined) return { reason: `a rollback file without its migration (${rollbackOf}.sql): skipped`, blocksMigrate: false };
  if (file.startsWith('.')) return { reason: 'starts with ".": skipped', blocksMigrate: false };
  if (!/^\d/.test(file)) return { reason: 'not a migration (no numeric timestamp prefix): skipped', blocksMigrate: false };
  return { reason: 'not a migration (not .ts, .js or .sql): skipped', blocksMigrate: false };
}

/** Why node-pg-migrate skips (or chokes on) a folder entry, or undefined for a migration. */
export function whyNotAMigration(file: string, kind: 'file' | 'folder' | 'other'): Omit<IgnoredFile, 'file'> | undefined {
  if (kind === 'folder' && file === ROLLBACKS_FOLDER) {
    return { reason: 'the rollbacks of .sql migrations without a "-- Down Migration" section (down/<migration file>)', blocksMigrate: false, rollback: true };
  }
  if (kind === 'folder') return { reason: 'a folder: node-pg-migrate reads only the files directly in the migrations folder', blocksMigrate: false };
  if (kind === 'other') return { reason: 'not a regular file: node-pg-migrate skips it', blocksMigrate: false };
  if (file.startsWith('.')) return { reason: 'starts with ".": node-pg-migrate skips it', blocksMigrate: false };
  const name = path.basename(file, path.extname(file));
  const loadable = LOADABLE_EXTENSIONS.has(path.extname(file).toLowerCase());
  if (!/^\d+/.test(file) && !loadable) {
    return {
      reason: 'not a migration (no timestamp prefix, not .ts/.js/.sql), and `gulp migrate` fails while it is in the folder: move it out',
      blocksMigrate: true,
    };
  }
  if (!/^\d+/.test(file)) {
    return {
      reason:
        'no numeric timestamp prefix: node-pg-migrate cannot order it and `gulp migrate` fails while it is in the folder ' +
        `("Cannot determine numeric prefix"); create migrations with \`gulp migrate:create --name ${safeName(name)}\` ` +
        '(or rename it to <timestamp>_name), and keep other files out of the folder',
      blocksMigrate: true,
    };
  }
  if (!loadable) {
    return {
      reason: 'not a .ts, .js or .sql file: node-pg-migrate fails to load it ("Unknown file extension"), so `gulp migrate` fails; move it out of the folder',
      blocksMigrate: true,
    };
  }
  const unsafe = unrecordableName(name);
  if (unsafe)
    return {
      reason: `${unsafe}: rename it (\`gulp migrate:create --name ${safeName(name.replace(/^\d+[_-]?/, ''))}\` makes a safe name)`,
      blocksMigrate: true,
    };
  return undefined;
}

/**
 * Why node-pg-migrate cannot record a migration of this name safely, or undefined. Its runner splices the name
 * unescaped into its ledger row (`INSERT INTO … (name, run_on) VALUES ('<name>', NOW())`): an apostrophe fails the
 * run halfway, or runs the rest of the name as SQL; a backslash or a control character is read differently by the
 * server's string syntax. Such a file must never run.
 * @example unrecordableName("1700000000000_fix_user's_email") // 'its name has an apostrophe (…)'
 */
export function unrecordableName(name: string): string | undefined {
  const found = /['\\\p{Cc}]/u.exec(name)?.[0];
  if (found === undefined) return undefined;
  const what = found === "'" ? 'an apostrophe' : found === '\\' ? 'a backslash' : 'a control character';
  return `its name has ${what}, which node-pg-migrate writes unescaped into its ledger row (INSERT … VALUES ('<name>', NOW())): running it would fail halfway or run part of the name as SQL`;
}

/** Whether a .sql migration has node-pg-migrate's `-- Down Migration` marker (its sqlMigration.ts regex). */
export function hasDownSection(file: string): boolean {
  try {
    return /^\s*--[\s-]*down\s+migration/im.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, '_') || 'name';
}

/** node-pg-migrate's complaint about a file in the migrations folder that is not a migration at all. */
export function isNotAMigrationError(message: string): boolean {
  return /numeric prefix|Unknown file extension/i.test(message);
}

/** What to do about such a file. */
export function notAMigrationHint(folder: string): string {
  return `name every migration <timestamp>_<name>.(ts|js|sql) and move other files out of ${folder}/ (\`gulp migrate:status\` lists what is not a migration and why)`;
}

/**
 * Refuses a folder that node-pg-migrate would run wrongly, whatever lint says (also with --no-lint): a migration whose
 * name cannot be recorded safely ({@link unrecordableName}), a symbolic link that loops or points nowhere (its
 * loader fails), or two files with one name and different extensions (both would run, under two identical ledger rows).
 * @example assertRunnableFolder(await readMigrationFolder('migrations'), 'migrations');
 */
export function assertRunnableFolder(folder: MigrationFolder, shown: string): void {
  const unsafe = folder.ignored.filter((entry) => entry.blocksMigrate && unrecordableName(path.basename(entry.file, path.extname(entry.file))));
  if (unsafe.length > 0) {
    throw new TaskError(
      `${shown}/${unsafe[0]!.file}: ${unrecordableName(path.basename(unsafe[0]!.file, path.extname(unsafe[0]!.file)))}; nothing was run` +
        (unsafe.length > 1
          ? ` (also: ${unsafe
              .slice(1)
              .map((entry) => entry.file)
              .join(', ')})`
          : ''),
      { hint: 'rename the file without apostrophes, backslashes or control characters (before it is applied anywhere), then run again' },
    );
  }
  const broken = folder.ignored.find((entry) => entry.blocksMigrate && entry.reason.startsWith('a symbolic link'));
  if (broken) {
    throw new TaskError(`${shown}/${broken.file} is ${broken.reason}; nothing was run`, {
      hint: `fix or remove ${shown}/${broken.file}, then run again`,
    });
  }
  const byName = new Map<string, string[]>();
  for (const migration of folder.migrations) byName.set(migration.name, [...(byName.get(migration.name) ?? []), migration.file]);
  const twice = [...byName.values()].filter((files) => files.length > 1);
  if (twice.length > 0) {
    throw new TaskError(
      `${shown}/ has ${twice.map((files) => files.join(' and ')).join('; ')}: one migration name, two files, and node-pg-migrate would run both under the same ledger name; nothing was run`,
      { hint: 'keep one of them (or give the other a new timestamp with `gulp migrate:create`), then run again' },
    );
  }
}
