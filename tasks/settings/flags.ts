import { parseArgs } from 'node:util';

/** Command-line flags as typed, before validation. */
export interface RawFlags {
  direction?: string;
  count?: string;
  provider?: string;
  timeout?: string;
  migrationsDir?: string;
  ignorePattern?: string;
  dotenv?: string;
  singleTransaction?: boolean;
  dryRun?: boolean;
  name?: string;
  lang?: string;
  json?: boolean;
  accept?: boolean;
  format?: string;
  lint?: boolean;
  apply?: boolean;
  lockTimeout?: string;
  statementTimeout?: string;
  lockMode?: string;
  /** Flags neither these tasks nor gulp-cli know, e.g. a typo: `--dirction` (each with a suggestion, if any). */
  unknown: string[];
  /** The flags of these tasks that were given, for checking them against what the running task takes. */
  given: FlagName[];
}

/** What `gulp --tasks` prints for each flag; tasks pick the ones they honour. */
export const FLAG_DESCRIPTIONS = {
  direction: '--direction up|down: which way to migrate (default: up)',
  count: '--count N|all: how many migrations (default: all up, 1 down, 1 for redo)',
  provider: '--provider auto|embedded|docker|compose|external|pglite: how to get a database (default: DB_PROVIDER or auto)',
  timeout: '--timeout SECONDS: how long to wait for the database (default: DB_WAIT_TIMEOUT or 30)',
  migrationsDir: '--migrations-dir DIR: folder of migrations (default: MIGRATIONS_DIR or migrations)',
  ignorePattern: '--ignore-pattern REGEX: file names in the migrations folder that are not migrations (default: MIGRATIONS_IGNORE_PATTERN, or dotfiles, names without a timestamp, *.down.sql, other extensions)',
  dotenv: '--dotenv FILE: environment file to load (default: .env, if present)',
  singleTransaction: '--no-single-transaction: commit each migration on its own (default: one transaction for all)',
  dryRun: '--dry-run: print the SQL the run would execute (up or down); change nothing (no lock, no ledger table)',
  name: '--name NAME: migrate:create: name of the new migration (letters, digits, _ and -); migrate:status --accept: the migration to accept',
  lang: '--lang ts|js|sql: language of the new migration (default: ts)',
  json: '--json: print a machine-readable document instead of the table',
  accept: '--accept: record checksums of applied migrations that have none (after you checked them); with --name NAME, accept that one even if edited',
  format: '--format text|json: how lint prints its findings (default: text)',
  lint: '--no-lint: run even when lint finds an error-level problem',
  apply: '--apply: also keep a local database and apply each new migration that passes lint',
  lockTimeout: '--lock-timeout DURATION: give up when a statement waits longer than this for a lock, e.g. 5s (default: DB_LOCK_TIMEOUT, else the server\'s setting)',
  statementTimeout: '--statement-timeout DURATION: give up when a statement runs longer than this, e.g. 2min (default: DB_STATEMENT_TIMEOUT, else the server\'s setting)',
  lockMode: '--lock-mode fail|wait: when another migration run holds the lock, fail at once or wait for it up to --timeout (default: DB_LOCK_MODE or fail)',
} as const;

export type FlagName = keyof typeof FLAG_DESCRIPTIONS;

/** Builds the `flags` object gulp-cli prints for a task. */
export function describeFlags(names: readonly FlagName[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const name of names) {
    const text = FLAG_DESCRIPTIONS[name];
    const separator = text.indexOf(': ');
    flags[text.slice(0, separator)] = text.slice(separator + 2);
  }
  return flags;
}

const OPTIONS = {
  direction: { type: 'string' },
  count: { type: 'string' },
  provider: { type: 'string' },
  timeout: { type: 'string' },
  'migrations-dir': { type: 'string' },
  'ignore-pattern': { type: 'string' },
  dotenv: { type: 'string' },
  'single-transaction': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  name: { type: 'string' },
  lang: { type: 'string' },
  json: { type: 'boolean' },
  accept: { type: 'boolean' },
  format: { type: 'string' },
  lint: { type: 'boolean' },
  apply: { type: 'boolean' },
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'lock-mode': { type: 'string' },
} as const;

const OPTION_FLAG_NAMES: Record<keyof typeof OPTIONS, FlagName> = {
  direction: 'direction',
  count: 'count',
  provider: 'provider',
  timeout: 'timeout',
  'migrations-dir': 'migrationsDir',
  'ignore-pattern': 'ignorePattern',
  dotenv: 'dotenv',
  'single-transaction': 'singleTransaction',
  'dry-run': 'dryRun',
  name: 'name',
  lang: 'lang',
  json: 'json',
  accept: 'accept',
  format: 'format',
  lint: 'lint',
  apply: 'apply',
  'lock-timeout': 'lockTimeout',
  'statement-timeout': 'statementTimeout',
  'lock-mode': 'lockMode',
};

/** gulp-cli 3's own flags (lib/shared/options/cli-options.js): left to it, never reported as unknown. */
const GULP_LONG_FLAGS = new Set([
  'help', 'version', 'preload', 'gulpfile', 'cwd', 'tasks', 'tasks-simple', 'tasks-json', 'tasks-depth', 'depth',
  'compact-tasks', 'sort-tasks', 'color', 'no-color', 'silent', 'continue', 'series', 'log-level',
]);
const GULP_SHORT_FLAGS = new Set(['h', 'v', 'f', 'T', 'S', 'L']);

/** Parses the flags these tasks understand out of `argv` (without node and script); notes unknown ones. */
export function parseFlags(argv: readonly string[]): RawFlags {
  const { values, tokens } = parseArgs({ args: [...argv], strict: false, allowPositionals: true, allowNegative: true, tokens: true, options: OPTIONS });
  const text = (value: unknown) => (value === undefined ? undefined : String(value === true ? '' : value));
  const unknown: string[] = [];
  const given = new Set<FlagName>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (token.name in OPTIONS) given.add(OPTION_FLAG_NAMES[token.name as keyof typeof OPTIONS]);
    const known = token.name in OPTIONS || (token.rawName.startsWith('--') ? GULP_LONG_FLAGS.has(token.name) : GULP_SHORT_FLAGS.has(token.name));
    if (!known && !unknown.includes(token.rawName)) unknown.push(token.rawName);
  }
  return {
    direction: text(values.direction),
    count: text(values.count),
    provider: text(values.provider),
    timeout: text(values.timeout),
    migrationsDir: text(values['migrations-dir']),
    ignorePattern: text(values['ignore-pattern']),
    dotenv: text(values.dotenv),
    singleTransaction: typeof values['single-transaction'] === 'boolean' ? values['single-transaction'] : undefined,
    dryRun: values['dry-run'] === true,
    name: text(values.name),
    lang: text(values.lang),
    json: values.json === true,
    accept: values.accept === true,
    format: text(values.format),
    lint: typeof values.lint === 'boolean' ? values.lint : undefined,
    apply: values.apply === true,
    lockTimeout: text(values['lock-timeout']),
    statementTimeout: text(values['statement-timeout']),
    lockMode: text(values['lock-mode']),
    unknown,
    given: [...given],
  };
}

/** The command-line spelling of a flag, e.g. `--migrations-dir`, `--no-lint`. */
export function flagUsage(name: FlagName): string {
  return FLAG_DESCRIPTIONS[name].split(/[ :]/, 1)[0]!;
}

/** "unknown flag --dirction (did you mean --direction?)", suggesting one of our flags within two edits. */
export function describeUnknownFlag(rawName: string): string {
  const name = rawName.replace(/^-+/, '');
  const candidates = [...Object.keys(OPTIONS), 'no-single-transaction', 'no-lint'];
  const suggestion = candidates
    .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
    .filter(({ distance }) => distance <= 2)
    .sort((a, b) => a.distance - b.distance)[0];
  return `unknown flag ${rawName}${suggestion ? ` (did you mean --${suggestion.candidate}?)` : ''}`;
}

/** Levenshtein distance: the fewest single-character edits turning one word into the other. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
