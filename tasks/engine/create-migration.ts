import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrationLanguage, SourceSettings } from '../settings/settings';
import { renderMigrationTemplate } from '../sources/migration-templates';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';

/** Longest accepted --name (the file name adds a 14-character prefix and the extension). */
export const MAX_NAME_LENGTH = 100;
/** What a name may contain: letters, digits, _ and -, starting with a letter or digit. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const PREFIX_DIGITS = 13;
const EXAMPLE_NAME = 'add_new_table';
const USAGE = '`gulp migrate:create --name add_new_table` (through npm: `npm run migrate:create -- --name add_new_table`)';

export interface CreateMigrationOptions {
  source: SourceSettings;
  /** --name as given: checked here (letters, digits, _ and -). */
  name: string | undefined;
  /** Default: ts. */
  lang?: MigrationLanguage;
  logger: Logger;
  /** Clock for the timestamp prefix, in ms since the epoch. Default: Date.now. */
  now?: () => number;
}

/** A file of the migrations folder as node-pg-migrate sees it: a numeric prefix, then `_name`. */
export interface MigrationFileName {
  file: string;
  /** The digits before the name, as written. */
  prefix: string;
  /** What node-pg-migrate orders by: the prefix in ms (17 digits are read as a UTC date, like node-pg-migrate does). */
  order: number;
  /** The part after the prefix and its separator, without the extension. */
  name: string;
}

/**
 * Creates `<migrations>/<13-digit ms timestamp>_<name>.<ts|js|sql>` from a template, prints its path and returns it.
 * The prefix is later than every existing migration's, so the new file always sorts last. Needs no database.
 * @example await createMigration({ source: settings.source, name: 'add_new_table', lang: 'sql', logger: console })
 */
export async function createMigration({ source, name: rawName, lang = 'ts', logger, now = Date.now }: CreateMigrationOptions): Promise<string> {
  const name = checkMigrationName(rawName);
  const dir = source.migrationsDir;
  const shown = (file: string) => showPath(source.projectDir, file);

  const existing = await readMigrationFolder(dir, shown(dir));
  const clash = existing?.find((file) => file.name.toLowerCase() === name.toLowerCase());
  if (clash) {
    throw new TaskError(`a migration named ${clash.name} already exists: ${shown(path.join(dir, clash.file))}`, {
      hint: `choose another name, one that says what this migration changes; or edit ${clash.file} instead if it has not been applied anywhere yet`,
    });
  }
  const newest = newestMigration(existing ?? []);
  const nowMs = now();
  const prefix = nextPrefix(newest, nowMs);
  if (newest && Number(prefix) !== Math.trunc(nowMs)) {
    const clock = new Date(nowMs).toISOString();
    logger.info(`The clock (${clock}) is not past the newest migration ${path.parse(newest.file).name}: using prefix ${prefix} so the new one sorts last`);
  }

  if (!existing) {
    await mkdir(dir, { recursive: true });
    logger.info(`Created the migrations folder ${shown(dir)}/ (set MIGRATIONS_DIR or --migrations-dir if yours is elsewhere)`);
  }
  const file = path.join(dir, `${prefix}_${name}.${lang}`);
  try {
    await writeFile(file, renderMigrationTemplate(lang, name), { flag: 'wx' });
  } catch (error) {
    throw new TaskError(`could not create ${shown(file)}: ${(error as Error).message}`, {
      hint:
        (error as NodeJS.ErrnoException).code === 'EEXIST'
          ? 'another migration was created at the same moment: run the command again'
          : `check that ${shown(dir)}/ is writable`,
      cause: error,
    });
  }
  logger.info(`Created ${shown(file)}`);
  return file;
}

/**
 * Returns the name if it is safe as (part of) a file name and a shell word; otherwise throws a TaskError that says why
 * and suggests a cleaned-up name.
 */
export function checkMigrationName(raw: string | undefined): string {
  const name = raw?.trim() ?? '';
  if (name === '') {
    throw new TaskError(raw === undefined ? 'migrate:create needs a name for the new migration: --name NAME' : 'the migration name is empty', {
      hint: `run ${USAGE}`,
    });
  }
  const extension = /\.(ts|js|sql)$/i.exec(name);
  if (extension) {
    const base = suggestName(name.slice(0, extension.index));
    throw new TaskError(`the migration name "${name}" ends with a file extension; the task adds it`, {
      hint: `use --name ${base || EXAMPLE_NAME} --lang ${extension[1]!.toLowerCase()}`,
    });
  }
  if (/^\d{10,}[_-]/.test(name)) {
    throw new TaskError(`the migration name "${name}" already starts with a timestamp; the task adds one`, {
      hint: `use --name ${suggestName(name.replace(/^\d+[_-]+/, '')) || EXAMPLE_NAME}`,
    });
  }
  if (!NAME_PATTERN.test(name)) {
    const suggestion = suggestName(name);
    throw new TaskError(`the migration name "${raw}" is not safe in a file name or a shell command: ${describeUnsafe(name)}`, {
      hint: `use only letters, digits, _ and -, starting with a letter or digit: --name ${suggestion || EXAMPLE_NAME}`,
    });
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new TaskError(`the migration name is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`, {
      hint: 'use a shorter name that says what changes, e.g. add_users_email_index',
    });
  }
  return name;
}

/** A safe version of a name: accents dropped, every run of other characters replaced by one _, trimmed, cut to the limit. */
export function suggestName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/_{2,}/g, '_')
    .replace(/^[_-]+/, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/[_-]+$/, '');
}

/** "it contains a path separator "/", ".." and whitespace", or why its first character is refused. */
function describeUnsafe(name: string): string {
  const found: string[] = [];
  const separators = [...new Set(name.match(/[/\\]/g) ?? [])];
  if (separators.length > 0) found.push(`a path separator ${separators.map((c) => `"${c}"`).join(' and ')}`);
  if (name.includes('..')) found.push('".." (a path outside the folder)');
  if (/\s/.test(name)) found.push('whitespace');
  const others = [...new Set(name.replace(/[/\\\s]|\.\./g, '').match(/[^A-Za-z0-9_-]/g) ?? [])];
  if (others.length > 0) found.push(`${others.length === 1 ? 'the character' : 'the characters'} ${others.join(' ')}`);
  if (found.length === 0) return `it must start with a letter or digit, not "${name[0]}"`;
  return `it contains ${found.length === 1 ? found[0] : `${found.slice(0, -1).join(', ')} and ${found.at(-1)}`}`;
}

/** Splits a migration file name into prefix, order and name; undefined for files node-pg-migrate cannot order. */
export function parseMigrationFileName(file: string): MigrationFileName | undefined {
  const match = /^(\d+)(?:[_-](.*))?$/.exec(path.parse(file).name);
  if (!match) return undefined;
  const prefix = match[1]!;
  return { file, prefix, order: prefixOrder(prefix), name: match[2] ?? '' };
}

/** The newest migration by node-pg-migrate's order, if any. */
export function newestMigration(files: readonly MigrationFileName[]): MigrationFileName | undefined {
  return files.reduce<MigrationFileName | undefined>((newest, file) => (!newest || file.order > newest.order ? file : newest), undefined);
}

/**
 * The 13-digit prefix for a new migration: now, or one past the newest existing migration when the clock is not past
 * it (another developer's clock was ahead, or two files in one millisecond), so the new file is never out of order.
 */
export function nextPrefix(newest: MigrationFileName | undefined, nowMs: number): string {
  const prefix = String(Math.max(Math.trunc(nowMs), newest ? newest.order + 1 : 0));
  if (prefix.length !== PREFIX_DIGITS) {
    const after = newest ? `after ${newest.file} (prefix ${newest.prefix})` : `from the clock (${nowMs})`;
    throw new TaskError(`cannot choose a ${PREFIX_DIGITS}-digit millisecond timestamp prefix ${after}`, {
      hint: newest
        ? `if ${newest.file} is not applied anywhere yet, rename it with a ${PREFIX_DIGITS}-digit prefix; otherwise create the file by hand`
        : 'check the system clock',
    });
  }
  return prefix;
}

/** node-pg-migrate's getNumericPrefix: 17 digits are a UTC date (YYYYMMDDhhmmssSSS), anything else a number. */
function prefixOrder(prefix: string): number {
  if (prefix.length !== 17) return Number(prefix);
  const [, y, mo, d, h, mi, s, ms] = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(prefix)!;
  return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
}

/** The migration files of `dir` (node-pg-migrate skips dot files; so do we), or undefined when it does not exist. */
async function readMigrationFolder(dir: string, shownDir: string): Promise<MigrationFileName[] | undefined> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith('.'))
      .map((entry) => parseMigrationFileName(entry.name))
      .filter((file): file is MigrationFileName => file !== undefined);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new TaskError(`cannot read the migrations folder ${shownDir}/: ${(error as Error).message}`, {
      hint: 'point MIGRATIONS_DIR (or --migrations-dir) at a folder',
      cause: error,
    });
  }
}

/** A path as the user would type it from the project folder. */
function showPath(projectDir: string, file: string): string {
  const relative = path.relative(projectDir, file);
  return relative && !relative.startsWith('..') ? relative : file;
}
