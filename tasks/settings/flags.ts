import { parseArgs } from 'node:util';

/** One command-line flag, declared once: parsing, validation, `gulp --tasks`, suggestions and docs/flags.md come from it. */
export interface FlagSpec {
  /** The spelling after `--`, e.g. `migrations-dir`. */
  readonly flag: string;
  readonly type: 'string' | 'boolean';
  /** A boolean that is on unless `--no-<flag>` is given: it is shown as `--no-<flag>`. */
  readonly negatable?: boolean;
  /** The value's placeholder in usage (`--timeout SECONDS`), when it takes one and has no fixed values. */
  readonly valueName?: string;
  /** The only values accepted, when they are a fixed list (validated by the settings with one message shape). */
  readonly values?: readonly string[];
  /** The environment variable it overrides, if any (the flag wins). */
  readonly env?: string;
  /** What `(default: …)` says. */
  readonly default?: string;
  /** What it does, starting lower-case (gulp --tasks prints `--flag VALUE  …description (default: …)`). */
  readonly description: string;
}

/** How a command gets its database (`--provider`, DB_PROVIDER); `auto` picks one and says why. */
export const PROVIDER_NAMES = ['auto', 'embedded', 'docker', 'compose', 'external', 'pglite'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Every flag the commands take. A command lists the names of those it honours (tasks/gulp/commands.ts). */
export const FLAGS = {
  direction: { flag: 'direction', type: 'string', values: ['up', 'down'], default: 'up', description: 'which way to migrate' },
  count: { flag: 'count', type: 'string', valueName: 'N|all', default: 'all up, 1 down, 1 for redo', description: 'how many migrations' },
  provider: {
    flag: 'provider',
    type: 'string',
    values: PROVIDER_NAMES,
    env: 'DB_PROVIDER',
    default: 'auto',
    description: 'how to get a database',
  },
  timeout: {
    flag: 'timeout',
    type: 'string',
    valueName: 'SECONDS',
    env: 'DB_WAIT_TIMEOUT',
    default: '30',
    description: 'how long to wait for the database',
  },
  migrationsDir: {
    flag: 'migrations-dir',
    type: 'string',
    valueName: 'DIR',
    env: 'MIGRATIONS_DIR',
    default: 'migrations',
    description: 'folder of migrations',
  },
  ignorePattern: {
    flag: 'ignore-pattern',
    type: 'string',
    valueName: 'REGEX',
    env: 'MIGRATIONS_IGNORE_PATTERN',
    default: 'skip dotfiles, names without a timestamp, *.down.sql and other extensions',
    description: 'file names in the migrations folder that are not migrations',
  },
  dotenv: { flag: 'dotenv', type: 'string', valueName: 'FILE', default: '.env, if present', description: 'environment file to load' },
  singleTransaction: {
    flag: 'single-transaction',
    type: 'boolean',
    negatable: true,
    default: 'one transaction for all',
    description: 'commit each migration on its own',
  },
  dryRun: {
    flag: 'dry-run',
    type: 'boolean',
    description: 'print the SQL the run would execute (up or down); change nothing (no lock, no ledger table)',
  },
  name: {
    flag: 'name',
    type: 'string',
    valueName: 'NAME',
    description: 'migrate:create: name of the new migration (letters, digits, _ and -); migrate:status --accept: the migration to accept',
  },
  lang: { flag: 'lang', type: 'string', values: ['ts', 'js', 'sql'], default: 'ts', description: 'language of the new migration' },
  json: { flag: 'json', type: 'boolean', description: 'print a machine-readable document instead of the table' },
  accept: {
    flag: 'accept',
    type: 'boolean',
    description: 'record checksums of applied migrations that have none (after you checked them); with --name NAME, accept that one even if edited',
  },
  format: { flag: 'format', type: 'string', values: ['text', 'json'], default: 'text', description: 'how lint prints its findings' },
  lint: { flag: 'lint', type: 'boolean', negatable: true, description: 'run even when lint finds an error-level problem' },
  apply: { flag: 'apply', type: 'boolean', description: 'also keep a local database and apply each new migration that passes lint' },
  lockTimeout: {
    flag: 'lock-timeout',
    type: 'string',
    valueName: 'DURATION',
    env: 'DB_LOCK_TIMEOUT',
    default: "the server's setting",
    description: 'give up when a statement waits longer than this for a lock, e.g. 5s',
  },
  statementTimeout: {
    flag: 'statement-timeout',
    type: 'string',
    valueName: 'DURATION',
    env: 'DB_STATEMENT_TIMEOUT',
    default: "the server's setting",
    description: 'give up when a statement runs longer than this, e.g. 2min',
  },
  lockMode: {
    flag: 'lock-mode',
    type: 'string',
    values: ['fail', 'wait'],
    env: 'DB_LOCK_MODE',
    default: 'fail',
    description: 'when another migration run holds the lock, fail at once or wait for it up to --timeout',
  },
  base: {
    flag: 'base',
    type: 'string',
    valueName: 'REF',
    env: 'MIGRATIONS_BASE',
    default: "the repository's default branch",
    description: 'migrations on this git ref (at its merge base with HEAD) are history; the others are new',
  },
  all: { flag: 'all', type: 'boolean', description: 'lint: judge every migration, history too (default: new ones; history is one summary line)' },
  updateBaseline: {
    flag: 'update-baseline',
    type: 'boolean',
    description: 'lint: accept every finding of today in .pgmt-lint-baseline.json (commit it); later runs judge only new findings',
  },
  since: {
    flag: 'since',
    type: 'string',
    valueName: 'REF|NAME',
    description: 'verify: apply the migrations up to NAME (or on git REF) once, and verify only those after it',
  },
  schemaFile: {
    flag: 'schema-file',
    type: 'string',
    valueName: 'FILE',
    env: 'SCHEMA_FILE',
    default: 'schema.sql',
    description: 'the committed schema file schema:dump writes and schema:check compares',
  },
  to: { flag: 'to', type: 'string', valueName: 'NAME', description: 'migrate:baseline: the last migration the existing database already has' },
  force: { flag: 'force', type: 'boolean', description: 'migrate:baseline: record the migrations even when the schemas differ (says so)' },
  targets: {
    flag: 'targets',
    type: 'string',
    valueName: 'FILE',
    env: 'MIGRATIONS_TARGETS',
    description: 'a fleet: migrate (or show the status of) every database a JSON file lists, [{ "name", "url" | "env" }]',
  },
  targetsQuery: {
    flag: 'targets-query',
    type: 'string',
    valueName: 'SQL',
    description: 'a fleet: the databases a query on DATABASE_URL returns (columns name, url)',
  },
  schemas: {
    flag: 'schemas',
    type: 'string',
    valueName: 'LIST|SQL',
    description: 'a fleet of schemas in DATABASE_URL (a,b,c, or a query returning their names), each with its own ledger',
  },
  concurrency: { flag: 'concurrency', type: 'string', valueName: 'N', default: '4', description: 'a fleet: how many targets at once (one connection each)' },
  canary: { flag: 'canary', type: 'string', valueName: 'K', description: 'a fleet: migrate K targets first, and stop if any of them fails' },
  continueOnError: {
    flag: 'continue-on-error',
    type: 'boolean',
    description: 'a fleet: after a target fails, go on with the others (default: finish the running ones, start no new one)',
  },
  report: { flag: 'report', type: 'string', valueName: 'FILE', description: 'a fleet: write each target’s outcome to FILE as JSON' },
  run: {
    flag: 'run',
    type: 'string',
    valueName: 'COMMAND',
    description: 'db:run: the command to run (sh -c, in the project folder) with DATABASE_URL and DB_* pointing at the migrated database',
  },
  clones: {
    flag: 'clones',
    type: 'string',
    valueName: 'N',
    default: 'none',
    description: 'db:run: also copy the migrated database N times (1 to 64) for parallel test workers, as DATABASE_URL_1 … DATABASE_URL_N',
  },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;
export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

type ValueOf<N extends FlagName> = (typeof FLAGS)[N]['type'] extends 'boolean' ? boolean : string;

/** Command-line flags as typed, before validation: each given flag's raw value. */
export type RawFlags = { -readonly [N in FlagName]?: ValueOf<N> } & {
  /** Flags neither these tasks nor gulp-cli know, e.g. a typo: `--dirction`. */
  unknown: string[];
  /** The flags of these tasks that were given, for checking them against what the running command takes. */
  given: FlagName[];
};

/** `--migrations-dir`, `--no-lint`: how a flag is spelled in usage and messages. */
export function flagUsage(name: FlagName): string {
  const spec: FlagSpec = FLAGS[name];
  return spec.negatable ? `--no-${spec.flag}` : `--${spec.flag}`;
}

/** The flag with its value placeholder: `--direction up|down`, `--timeout SECONDS`, `--dry-run`. */
export function flagSynopsis(name: FlagName): string {
  const spec: FlagSpec = FLAGS[name];
  const value = spec.type === 'boolean' ? '' : ` ${spec.values ? spec.values.join('|') : (spec.valueName ?? 'VALUE')}`;
  return `${flagUsage(name)}${value}`;
}

/** The flag's description with its default: `which way to migrate (default: up)`, `… (default: DB_PROVIDER or auto)`. */
export function flagDescription(name: FlagName): string {
  const spec: FlagSpec = FLAGS[name];
  if (spec.default === undefined) return spec.description;
  // `DB_PROVIDER or auto`; a default of several words reads `DB_LOCK_TIMEOUT, else the server's setting`.
  const deflt = spec.env ? `${spec.env}${spec.default.includes(' ') ? ', else' : ' or'} ${spec.default}` : spec.default;
  return `${spec.description} (default: ${deflt})`;
}

/** The `flags` object gulp-cli prints for a task: `{ '--direction up|down': 'which way … (default: up)' }`. */
export function describeFlags(names: readonly FlagName[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [flagSynopsis(name), flagDescription(name)]));
}

const PARSE_OPTIONS = Object.fromEntries(Object.values(FLAGS).map((spec) => [spec.flag, { type: spec.type }])) as Record<
  string,
  { type: 'string' | 'boolean' }
>;
const NAME_BY_FLAG = new Map<string, FlagName>(FLAG_NAMES.map((name) => [FLAGS[name].flag, name]));

/** gulp-cli 3's own flags (lib/shared/options/cli-options.js): left to it, never reported as unknown. */
const GULP_LONG_FLAGS = new Set([
  'help',
  'version',
  'preload',
  'gulpfile',
  'cwd',
  'tasks',
  'tasks-simple',
  'tasks-json',
  'tasks-depth',
  'depth',
  'compact-tasks',
  'sort-tasks',
  'color',
  'no-color',
  'silent',
  'continue',
  'series',
  'log-level',
]);
const GULP_SHORT_FLAGS = new Set(['h', 'v', 'f', 'T', 'S', 'L']);

/** Parses the flags these tasks understand out of `argv` (without node and script); notes unknown ones. */
export function parseFlags(argv: readonly string[]): RawFlags {
  const { values, tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
    options: PARSE_OPTIONS,
  });
  const unknown: string[] = [];
  const given = new Set<FlagName>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const name = NAME_BY_FLAG.get(token.name);
    if (name) given.add(name);
    const known = name !== undefined || (token.rawName.startsWith('--') ? GULP_LONG_FLAGS.has(token.name) : GULP_SHORT_FLAGS.has(token.name));
    if (!known && !unknown.includes(token.rawName)) unknown.push(token.rawName);
  }
  const flags: RawFlags = { unknown, given: [...given] };
  for (const name of FLAG_NAMES) {
    const value = values[FLAGS[name].flag];
    if (value === undefined) continue;
    const spec: FlagSpec = FLAGS[name];
    // A string flag given without a value (`--name` at the end) is an empty string, which validation then reports.
    (flags as Record<string, unknown>)[name] = spec.type === 'boolean' ? value === true || value === 'true' : value === true ? '' : String(value);
  }
  return flags;
}

/** "unknown flag --dirction (did you mean --direction?)", suggesting one of our flags within two edits. */
export function describeUnknownFlag(rawName: string): string {
  const name = rawName.replace(/^-+/, '');
  const candidates = FLAG_NAMES.flatMap((flag) => [FLAGS[flag].flag, ...((FLAGS[flag] as FlagSpec).negatable ? [`no-${FLAGS[flag].flag}`] : [])]);
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
