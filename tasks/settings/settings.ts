import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { TaskError } from '../util/errors';
import { parseDuration } from './duration';
import { FLAGS, describeUnknownFlag, flagUsage, parseFlags, type FlagName, type ProviderName, type RawFlags } from './flags';
import { readKeptStateSync } from './kept-state';
import { readTargetsFile, SCHEMA_NAME, type FleetTarget } from './targets';

export { PROVIDER_NAMES, type ProviderName } from './flags';
export type Direction = (typeof FLAGS.direction.values)[number];
export type MigrationLanguage = (typeof FLAGS.lang.values)[number];
export type LockMode = (typeof FLAGS.lockMode.values)[number];
export type LintFormat = (typeof FLAGS.format.values)[number];

/** DB_MIGRATE_AS: who runs the migrations. */
export const MIGRATE_AS = ['app', 'superuser'] as const;
export type MigrateAs = (typeof MIGRATE_AS)[number];

/** The parts of a connection URL. */
export interface ConnectionParts {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

/** Where and as whom the application (and its migrations) connect. */
export interface ConnectionSettings extends ConnectionParts {
  /** DATABASE_URL as given, or assembled from the parts. Holds the password: print it with redactUrl. */
  url: string;
  /** Where the connection came from, for messages. */
  source: 'DATABASE_URL' | 'DB_* variables' | 'kept database' | 'defaults';
  /** True when DB_PASSWORD was not given and one was generated for a disposable database. */
  passwordGenerated: boolean;
  /** True when DB_PORT (or the URL) named a port, which a disposable server then uses only with KEEP_DB. */
  portGiven: boolean;
  /** DB_WAIT_TIMEOUT / --timeout: how long to wait for the database to answer (and for the lock with --lock-mode wait). */
  waitTimeoutMs: number;
  /** DB_MIGRATE_AS: run migrations as the application role (default) or as the superuser of a server the tasks started. */
  migrateAs: MigrateAs;
}

/** Where the migration files are. */
export interface SourceSettings {
  /** The project folder: `.env`, the kept-database record and relative paths in messages are relative to it. */
  projectDir: string;
  migrationsDir: string;
  /** --ignore-pattern / MIGRATIONS_IGNORE_PATTERN (node-pg-migrate's ignorePattern); undefined: DEFAULT_IGNORE_PATTERN. */
  ignorePattern?: string;
  /** --base / MIGRATIONS_BASE: the git ref whose migrations are history; undefined: the default branch. */
  base?: string;
  /** --schema-file / SCHEMA_FILE, absolute: the committed schema file. */
  schemaFile: string;
}

/** Where node-pg-migrate records what it applied (and where the checksums live beside it). */
export interface LedgerSettings {
  /** The ledger's schema: `public`, as node-pg-migrate's runner uses when no schema is configured. */
  schema: string;
  /** MIGRATIONS_TABLE: node-pg-migrate's `migrationsTable`. */
  table: string;
  /**
   * The schema the migrations run in (node-pg-migrate's `schema`: the search_path; created when missing): a tenant's
   * schema of a `--schemas` fleet, whose ledger is in it too. Undefined: the role's own search_path.
   */
  runSchema?: string;
}

/** How a migration run behaves. */
export interface RunSettings {
  /** --direction; undefined when not given, so the command's own default applies. */
  direction?: Direction;
  /** --count; undefined when not given. Infinity for `all`. */
  count?: number;
  singleTransaction: boolean;
  /** --dry-run: print the SQL, change nothing. */
  dryRun: boolean;
  /** False with --no-lint: skip the lint pre-flight. */
  lint: boolean;
  /** --lock-mode / DB_LOCK_MODE: when another run holds the migration lock, fail at once or wait up to lockWaitMs. */
  lockMode: LockMode;
  /** How long `--lock-mode wait` waits (DB_WAIT_TIMEOUT / --timeout). */
  lockWaitMs: number;
  /** --lock-timeout / DB_LOCK_TIMEOUT in ms, set as the session's lock_timeout (0: none); undefined: the server's. */
  lockTimeoutMs?: number;
  /** --statement-timeout / DB_STATEMENT_TIMEOUT in ms, set as the session's statement_timeout; undefined: the server's. */
  statementTimeoutMs?: number;
  /** Where each timeout came from, for messages: the flag or the variable. */
  timeoutSources: { lockTimeout?: string; statementTimeout?: string };
}

/** How a command that starts its own database gets one. */
export interface ProviderSettings {
  name: ProviderName;
  /** Where the choice came from, for messages. */
  chosenBy: '--provider' | 'DB_PROVIDER' | 'default';
  /** KEEP_DB: leave the database running after the run and reuse it next time. */
  keepDb: boolean;
  waitTimeoutMs: number;
  /** Where the kept-database record lives (the project folder). */
  projectDir: string;
  /** SQL scripts run as superuser on every database the tasks start (they create the application role). */
  initScriptsDir: string;
  /** docker provider: the image. */
  image: string;
  /** compose provider: the compose file. */
  composeFile: string;
  /** embedded provider: a bin dir to use instead of searching. */
  pgBin?: string;
  /** embedded provider: the OS user the server runs as under root. */
  osUser: string;
  /** embedded provider: DB_PG_VERSION, which of the binaries found to use (a major, or major.minor); default: the newest. */
  pgVersion?: string;
  /** embedded provider: DB_CLUSTER_CACHE, where initdb results are cached ("off": run initdb every time). */
  clusterCache?: string;
}

/** The flags only one command reads. */
export interface CommandSettings {
  /** migrate:create --name as given (validated by the command), migrate:status --accept --name. */
  name?: string;
  /** migrate:create --lang. */
  lang?: MigrationLanguage;
  /** migrate:status --json. */
  json: boolean;
  /** migrate:status --accept. */
  accept: boolean;
  /** lint --format. */
  format: LintFormat;
  /** watch --apply. */
  apply: boolean;
  /** lint --all: history too. */
  all: boolean;
  /** lint --update-baseline. */
  updateBaseline: boolean;
  /** migrate:verify --since REF|NAME. */
  since?: string;
  /** migrate:baseline --to NAME. */
  to?: string;
  /** migrate:baseline --force. */
  force: boolean;
  /** db:run --run COMMAND, trimmed; undefined when not given. */
  run?: string;
  /** db:run --clones N: copies of the migrated database to make (0: none). */
  clones: number;
}

/** A fleet: many databases, or many schemas of one, migrated (or shown) by one command. */
export interface FleetSettings {
  /** --targets FILE (MIGRATIONS_TARGETS), read: the databases it lists. */
  targets?: FleetTarget[];
  /** The targets file, absolute (for messages). */
  targetsFile?: string;
  /** Names of targets whose URL in the committed file holds a password. */
  targetsWithPassword: string[];
  /** --targets-query SQL, run on DATABASE_URL: rows of (name, url). */
  targetsQuery?: string;
  /** --schemas: schema names, or a query on DATABASE_URL returning them. */
  schemas?: { list: string[] } | { query: string };
  /** --concurrency: targets at once, one connection each. */
  concurrency: number;
  /** --canary K: these many first; the rest only when all of them succeed. 0: no canary. */
  canary: number;
  /** --continue-on-error. */
  continueOnError: boolean;
  /** --report FILE, absolute. */
  reportFile?: string;
}

/** True when the command works on a fleet (--targets, --targets-query or --schemas) rather than one database. */
export function isFleet(fleet: FleetSettings): boolean {
  return fleet.targets !== undefined || fleet.targetsQuery !== undefined || fleet.schemas !== undefined;
}

/** Everything the commands need, resolved once from flags, the environment, `.env` and the project's options. */
export interface Settings {
  projectDir: string;
  /** The `.env` file that was loaded, if any. */
  envFile?: string;
  connection: ConnectionSettings;
  source: SourceSettings;
  ledger: LedgerSettings;
  run: RunSettings;
  provider: ProviderSettings;
  command: CommandSettings;
  fleet: FleetSettings;
}

/** A project's defaults (createMigrationTasks options): each is used when its environment variable and flag are absent. */
export interface ProjectDefaults {
  /** MIGRATIONS_DIR's default. */
  migrationsDir: string;
  /** DB_INIT_SCRIPTS' default: the SQL run as superuser on each database the tasks start. */
  initScriptsDir: string;
  /** DB_NAME's default for a database the tasks start. */
  database: string;
  /** DB_USER's default for a database the tasks start. */
  user: string;
  /** MIGRATIONS_TABLE's default. */
  migrationsTable: string;
  /** DB_PROVIDER's default. */
  provider: ProviderName;
  /** DB_IMAGE's default (docker provider). */
  image: string;
  /** COMPOSE_FILE's default (compose provider). */
  composeFile: string;
  /** DB_WAIT_TIMEOUT's default, in seconds. */
  waitTimeoutSeconds: number;
  /** SCHEMA_FILE's default. */
  schemaFile: string;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 5432,
  database: 'contenthub',
  user: 'contentuser',
  waitTimeoutSeconds: 30,
  migrationsDir: 'migrations',
  migrationsTable: 'pgmigrations',
  ledgerSchema: 'public',
  initScriptsDir: 'postgres/init',
  image: 'postgres:15.8-alpine',
  composeFile: 'docker-compose.yml',
  osUser: 'postgres',
  provider: 'auto',
  schemaFile: 'schema.sql',
} as const;

const PART_VARIABLES = ['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD'] as const;

/** What the commands about to run need: decides which settings are required and checked up front. */
export interface Requirements {
  /** A later step starts its own database (migrate:local, db:start): missing DB_* fall back to defaults. */
  startsDatabase?: boolean;
  /** A later step reads the migrations: a missing migrations folder is a problem reported before anything starts. */
  migrates?: boolean;
  /** A later step reads the database at DATABASE_URL although a throw-away one is started too (drift, baseline). */
  liveDatabase?: boolean;
  /** A later step connects to the database; when none does (lint, migrate:create), connection settings are neither required nor checked. Default true. */
  connects?: boolean;
  /** A later step runs the command --run gives (db:run): --run is then required. */
  runsCommand?: boolean;
}

export interface ResolveSettingsOptions extends Requirements {
  /** Environment variables (real ones win over `.env`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments after `node gulp`. */
  argv: readonly string[];
  /** Project folder: `.env`, migrations and the kept-database record are found from here. */
  cwd: string;
  /** The flags the running command takes; any other of ours is reported. Default: all. */
  allowedFlags?: readonly FlagName[];
  /** The project's defaults (createMigrationTasks options); each field falls back to DEFAULTS. */
  defaults?: Partial<ProjectDefaults>;
}

/**
 * Resolves and validates the settings. Every problem is collected and reported in one TaskError.
 * @example resolveSettings({ env: process.env, argv: process.argv.slice(2), cwd: process.cwd(), startsDatabase: true })
 */
export function resolveSettings({
  env,
  argv,
  cwd,
  startsDatabase = false,
  migrates = false,
  liveDatabase = false,
  connects = true,
  runsCommand = false,
  allowedFlags,
  defaults: projectDefaults = {},
}: ResolveSettingsOptions): Settings {
  const defaults = { ...DEFAULTS, ...definedOnly(projectDefaults) };
  const problems = new Problems();
  const flags = parseFlags(argv);
  for (const rawName of flags.unknown) problems.flag(describeUnknownFlag(rawName));
  const misplaced = allowedFlags ? flags.given.filter((name) => !allowedFlags.includes(name)) : [];
  if (misplaced.length > 0) {
    const takes = allowedFlags!.length > 0 ? `it takes ${allowedFlags!.map(flagUsage).join(', ')}` : 'it takes no flags';
    problems.flag(`${misplaced.map(flagUsage).join(', ')} ${misplaced.length === 1 ? 'does' : 'do'} not apply to this task (${takes})`);
  }

  const envFile = path.resolve(cwd, flags.dotenv ?? '.env');
  let fileVars: Record<string, string> = {};
  if (existsSync(envFile)) fileVars = dotenv.parse(readFileSync(envFile));
  else if (flags.dotenv !== undefined) problems.flag(`--dotenv ${flags.dotenv}: no such file`);
  const vars: Record<string, string | undefined> = { ...fileVars, ...definedOnly(env) };
  const get = (name: string) => (vars[name]?.trim() ? vars[name]!.trim() : undefined);
  const read = new FlagReader(flags, get, problems);

  // A fleet from a targets file connects to the databases it lists: DATABASE_URL is then not needed.
  const fleet = resolveFleet(flags, get, cwd, problems);
  // A command that never connects (migrate:create) neither needs nor checks the connection settings.
  const connectionProblems = connects && fleet.targets === undefined ? problems : new Problems();
  const provider = read.choice('provider', connectionProblems) ?? defaults.provider;
  const keepDb = parseBoolean('KEEP_DB', get('KEEP_DB'), connectionProblems);
  const external = connects && (!startsDatabase || liveDatabase || provider === 'external');
  const connection =
    resolveConnection(get, external, cwd, defaults, connectionProblems) ??
    (connects && fleet.targets === undefined ? undefined : resolveConnection(() => undefined, false, cwd, defaults, new Problems()));

  const fromFlag = flags.timeout !== undefined;
  const timeoutText = flags.timeout ?? get('DB_WAIT_TIMEOUT');
  let waitTimeoutSeconds = timeoutText === undefined ? defaults.waitTimeoutSeconds : Number(timeoutText);
  if (!(waitTimeoutSeconds > 0) || !Number.isFinite(waitTimeoutSeconds)) {
    connectionProblems.add(
      fromFlag ? 'flag' : 'env',
      `${fromFlag ? '--timeout' : 'DB_WAIT_TIMEOUT'} must be a positive number of seconds, got "${timeoutText}"`,
    );
    waitTimeoutSeconds = defaults.waitTimeoutSeconds;
  }
  const waitTimeoutMs = Math.round(waitTimeoutSeconds * 1000);

  const direction = read.choice('direction');
  const count = parseCount(flags.count, problems);
  const lang = read.choice('lang');
  const format = read.choice('format') ?? 'text';
  const lockMode = read.choice('lockMode') ?? 'fail';
  const lockTimeout = read.duration('lockTimeout');
  const statementTimeout = read.duration('statementTimeout');
  const migrateAs = oneOf('DB_MIGRATE_AS', get('DB_MIGRATE_AS'), 'env', MIGRATE_AS, problems) ?? 'app';
  const ignorePattern = flags.ignorePattern ?? get('MIGRATIONS_IGNORE_PATTERN');
  if (ignorePattern !== undefined) {
    try {
      new RegExp(`^${ignorePattern}$`);
    } catch (error) {
      problems.add(flags.ignorePattern !== undefined ? 'flag' : 'env', `--ignore-pattern is not a valid regular expression (${(error as Error).message})`);
    }
  }
  const pgVersion = get('DB_PG_VERSION');
  if (pgVersion !== undefined && !/^\d+(\.\d+)?$/.test(pgVersion))
    problems.env(`DB_PG_VERSION must be a PostgreSQL version such as 15 or 18.4, got "${pgVersion}"`);
  const migrationsDir = path.resolve(cwd, flags.migrationsDir ?? get('MIGRATIONS_DIR') ?? defaults.migrationsDir);
  if (migrates && !statSync(migrationsDir, { throwIfNoEntry: false })?.isDirectory()) {
    const kind = flags.migrationsDir !== undefined ? 'flag' : 'env';
    const problem = existsSync(migrationsDir) ? 'is a file, not a folder' : 'does not exist';
    problems.add(
      kind,
      `migrations folder ${path.relative(cwd, migrationsDir) || migrationsDir}/ ${problem} (set MIGRATIONS_DIR or --migrations-dir to the folder that holds them)`,
    );
  }

  const ledgerTable = get('MIGRATIONS_TABLE') ?? defaults.migrationsTable;
  const ledgerSchema = defaults.ledgerSchema;
  // Only where a ledger is read or written: lint and migrate:create never touch it.
  const tableProblem = connects ? unsafeLedgerIdentifier(ledgerTable) : undefined;
  if (tableProblem) problems.env(`MIGRATIONS_TABLE ${JSON.stringify(ledgerTable)} ${tableProblem}`);
  const schemaProblem = connects ? unsafeLedgerIdentifier(ledgerSchema) : undefined;
  if (schemaProblem) problems.env(`the ledger schema ${JSON.stringify(ledgerSchema)} (the ledgerSchema option) ${schemaProblem}`);

  const run = parseRun(flags.run, runsCommand, problems);
  const clones = parseClones(flags.clones, problems);

  if (problems.size > 0) throw problems.toError(existsSync(envFile) ? envFile : undefined);
  return {
    projectDir: cwd,
    envFile: existsSync(envFile) ? envFile : undefined,
    connection: { ...connection!, waitTimeoutMs, migrateAs },
    source: {
      projectDir: cwd,
      migrationsDir,
      ignorePattern,
      ...((flags.base ?? get('MIGRATIONS_BASE')) ? { base: flags.base ?? get('MIGRATIONS_BASE') } : {}),
      schemaFile: path.resolve(cwd, flags.schemaFile ?? get('SCHEMA_FILE') ?? defaults.schemaFile),
    },
    ledger: { schema: ledgerSchema, table: ledgerTable },
    run: {
      direction,
      count,
      singleTransaction: flags.singleTransaction ?? true,
      dryRun: flags.dryRun ?? false,
      lint: flags.lint ?? true,
      lockMode,
      lockWaitMs: waitTimeoutMs,
      lockTimeoutMs: lockTimeout?.ms,
      statementTimeoutMs: statementTimeout?.ms,
      timeoutSources: { lockTimeout: lockTimeout?.source, statementTimeout: statementTimeout?.source },
    },
    provider: {
      name: provider,
      chosenBy: flags.provider !== undefined ? '--provider' : get('DB_PROVIDER') !== undefined ? 'DB_PROVIDER' : 'default',
      keepDb,
      waitTimeoutMs,
      projectDir: cwd,
      initScriptsDir: path.resolve(cwd, get('DB_INIT_SCRIPTS') ?? defaults.initScriptsDir),
      image: get('DB_IMAGE') ?? defaults.image,
      composeFile: path.resolve(cwd, get('COMPOSE_FILE') ?? defaults.composeFile),
      pgBin: get('DB_PG_BIN'),
      osUser: get('DB_OS_USER') ?? defaults.osUser,
      clusterCache: get('DB_CLUSTER_CACHE'),
      pgVersion,
    },
    command: {
      name: flags.name,
      lang,
      json: flags.json ?? false,
      accept: flags.accept ?? false,
      format,
      apply: flags.apply ?? false,
      all: flags.all ?? false,
      updateBaseline: flags.updateBaseline ?? false,
      since: flags.since,
      to: flags.to,
      force: flags.force ?? false,
      ...(run !== undefined ? { run } : {}),
      clones,
    },
    fleet,
  };
}

type ResolvedConnection = Omit<ConnectionSettings, 'waitTimeoutMs' | 'migrateAs'>;

function resolveConnection(
  get: (name: string) => string | undefined,
  external: boolean,
  cwd: string,
  defaults: Pick<typeof DEFAULTS, 'host' | 'port'> & Pick<ProjectDefaults, 'database' | 'user'>,
  problems: Problems,
): ResolvedConnection | undefined {
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl) {
    const urlProblems: string[] = [];
    const parts = parseDatabaseUrl(databaseUrl, urlProblems);
    for (const problem of urlProblems) problems.env(problem);
    if (!parts) return undefined;
    return { url: databaseUrl, ...parts, source: 'DATABASE_URL', passwordGenerated: false, portGiven: true };
  }

  const missing = PART_VARIABLES.filter((name) => get(name) === undefined);
  const portText = get('DB_PORT');
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText !== undefined && port === undefined) {
    problems.env(`DB_PORT must be a port number from 1 to 65535, got "${portText}"`);
  }

  if (missing.length === 0) {
    const parts = { host: get('DB_HOST')!, port: port ?? 0, database: get('DB_NAME')!, user: get('DB_USER')!, password: get('DB_PASSWORD')! };
    return { url: buildUrl(parts), ...parts, source: 'DB_* variables', passwordGenerated: false, portGiven: true };
  }

  const kept = readKeptStateSync(cwd);
  const keptParts = kept ? parseDatabaseUrl(kept.url, []) : undefined;
  if (external && !keptParts) {
    problems.add('connection', `DATABASE_URL is required: set it, or set ${PART_VARIABLES.join(', ')} (missing: ${missing.join(', ')})`);
    return undefined;
  }
  const fallback = keptParts ?? {
    host: defaults.host,
    port: defaults.port,
    database: defaults.database,
    user: defaults.user,
    password: randomBytes(18).toString('base64url'),
  };
  const parts: ConnectionParts = {
    host: get('DB_HOST') ?? fallback.host,
    port: port ?? fallback.port,
    database: get('DB_NAME') ?? fallback.database,
    user: get('DB_USER') ?? fallback.user,
    password: get('DB_PASSWORD') ?? fallback.password,
  };
  return {
    url: buildUrl(parts),
    ...parts,
    source: keptParts ? 'kept database' : missing.length === PART_VARIABLES.length ? 'defaults' : 'DB_* variables',
    passwordGenerated: !keptParts && get('DB_PASSWORD') === undefined,
    portGiven: portText !== undefined || keptParts !== undefined,
  };
}

/** Parses a postgres:// or postgresql:// URL into its parts; reports a problem (without the password) when it can't. */
export function parseDatabaseUrl(url: string, problems: string[]): ConnectionParts | undefined {
  const expected = 'expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(`DATABASE_URL is not a valid URL (${expected}; special characters in the password must be percent-encoded)`);
    return undefined;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    problems.push(`DATABASE_URL must start with postgresql:// or postgres://, got "${parsed.protocol}//" (${expected})`);
    return undefined;
  }
  if (!parsed.hostname) {
    problems.push(`DATABASE_URL has no host (${expected})`);
    return undefined;
  }
  const user = decodeURIComponent(parsed.username);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  if (/[@/]/.test(database) || /@/.test(parsed.search + parsed.hash)) {
    // A raw @ or / in the password: what URL parsing calls the host and database are pieces of it. Never echo them.
    problems.push(
      `DATABASE_URL does not parse as intended: what follows the host looks like the rest of a password (special characters in the password must be percent-encoded; ${expected})`,
    );
    return undefined;
  }
  if (!user) problems.push(`DATABASE_URL has no user name (${expected}; special characters in the password must be percent-encoded)`);
  if (!database) problems.push(`DATABASE_URL has no database name (${expected})`);
  if (!user || !database) return undefined;
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : DEFAULTS.port,
    database,
    user,
    password: decodeURIComponent(parsed.password),
  };
}

/** Assembles a connection URL, percent-encoding every part. */
export function buildUrl({ host, port, database, user, password }: ConnectionParts): string {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  return `postgresql://${auth}@${hostPart}:${port}/${encodeURIComponent(database)}`;
}

function parsePort(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : undefined;
}

const QUERY = /^\s*(select|with|values|table)\b/i;

function resolveFleet(flags: RawFlags, get: (name: string) => string | undefined, cwd: string, problems: Problems): FleetSettings {
  const targetsText = flags.targets ?? get('MIGRATIONS_TARGETS');
  const targetsFile = targetsText === undefined ? undefined : path.resolve(cwd, targetsText);
  const fileProblems: string[] = [];
  const read = targetsFile === undefined ? undefined : readTargetsFile(targetsFile, get, fileProblems);
  for (const problem of fileProblems) problems.add(flags.targets !== undefined ? 'flag' : 'env', problem);
  const schemasText = flags.schemas?.trim();
  let schemas: FleetSettings['schemas'];
  if (schemasText !== undefined) {
    if (QUERY.test(schemasText)) schemas = { query: schemasText };
    else {
      const list = schemasText
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const bad = list.filter((name) => !SCHEMA_NAME.test(name));
      if (list.length === 0) problems.flag('--schemas needs a comma-separated list of schema names, or a query returning them (SELECT …)');
      if (bad.length > 0)
        problems.flag(
          `--schemas: ${bad.map((name) => JSON.stringify(name)).join(', ')} ${bad.length === 1 ? 'is not a schema name' : 'are not schema names'} these tasks take (letters, digits and _, not starting with a digit)`,
        );
      if (new Set(list).size !== list.length) problems.flag('--schemas names a schema twice');
      schemas = { list };
    }
  }
  const sources = [
    targetsFile !== undefined && '--targets',
    flags.targetsQuery !== undefined && '--targets-query',
    schemas !== undefined && '--schemas',
  ].filter(Boolean);
  if (sources.length > 1) problems.flag(`${sources.join(' and ')} each name the whole fleet: give one of them`);
  if (flags.targetsQuery !== undefined && !QUERY.test(flags.targetsQuery))
    problems.flag('--targets-query must be a query (SELECT …) returning the columns name and url');
  const positive = (flag: 'concurrency' | 'canary', text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    if (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= 256) return Number(text);
    problems.flag(`--${flag} must be a whole number from ${min} to 256, got "${text}"`);
    return fallback;
  };
  const fleetGiven = sources.length > 0;
  for (const flag of ['concurrency', 'canary', 'continueOnError', 'report'] as const) {
    if (!fleetGiven && flags[flag] !== undefined)
      problems.flag(`${flagUsage(flag)} applies to a fleet: give --targets FILE, --targets-query SQL or --schemas too`);
  }
  return {
    ...(read ? { targets: read.targets, targetsFile, targetsWithPassword: read.withPassword } : { targetsWithPassword: [] }),
    ...(flags.targetsQuery !== undefined ? { targetsQuery: flags.targetsQuery } : {}),
    ...(schemas ? { schemas } : {}),
    concurrency: positive('concurrency', flags.concurrency, 4, 1),
    canary: positive('canary', flags.canary, 0, 1),
    continueOnError: flags.continueOnError ?? false,
    ...(flags.report !== undefined ? { reportFile: path.resolve(cwd, flags.report) } : {}),
  };
}

/**
 * Why node-pg-migrate cannot use this ledger table or schema name safely, or undefined: it splices them into its SQL
 * (double-quoted, and unescaped inside its ledger queries' string literals), so a quote, a backslash or a control
 * character breaks every run with a parser error that seems to blame the migration files.
 */
function unsafeLedgerIdentifier(name: string): string | undefined {
  if (name.length === 0) return 'is empty: name the ledger table, e.g. pgmigrations';
  if (/['"\\\p{Cc}]/u.test(name))
    return 'has a quote, a backslash or a control character, which node-pg-migrate cannot put in its SQL: use letters, digits and _';
  if (Buffer.byteLength(name) > 63) return "is longer than PostgreSQL's 63 bytes for a name";
  return undefined;
}

/** The most copies `--clones` makes: each is a database on the server (and a connection pool in a test worker). */
export const MAX_CLONES = 64;

/** --run COMMAND: required when a later step runs it; never empty, never a flag that swallowed the command's place. */
function parseRun(text: string | undefined, required: boolean, problems: Problems): string | undefined {
  const example = 'e.g. --run "npm test" (quote a command with spaces)';
  if (text === undefined) {
    if (required) problems.flag(`--run COMMAND is required: the command to run against the migrated database, ${example}`);
    return undefined;
  }
  const command = text.trim();
  if (!command) problems.flag(`--run needs a command, ${example}`);
  else if (command.startsWith('-')) problems.flag(`--run needs a command as its value, got the flag "${command.split(/\s/)[0]}": ${example}`);
  else return command;
  return undefined;
}

/** --clones N: a whole number from 1 to MAX_CLONES; 0 when not given. */
function parseClones(text: string | undefined, problems: Problems): number {
  if (text === undefined) return 0;
  if (/^\d+$/.test(text.trim()) && Number(text) >= 1 && Number(text) <= MAX_CLONES) return Number(text);
  problems.flag(`--clones must be a whole number from 1 to ${MAX_CLONES} (the copies of the migrated database to make), got "${text}"`);
  return 0;
}

function parseCount(text: string | undefined, problems: Problems): number | undefined {
  if (text === undefined) return undefined;
  if (text === 'all') return Number.POSITIVE_INFINITY;
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
  problems.flag(`--count must be a positive whole number or "all", got "${text}"`);
  return undefined;
}

function parseBoolean(name: string, text: string | undefined, problems: Problems): boolean {
  if (text === undefined) return false;
  const value = text.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  problems.env(`${name} must be 1 or 0 (or true/false), got "${text}"`);
  return false;
}

/** Validates a value against a list, naming where it came from. */
function oneOf<T extends string>(name: string, value: string | undefined, kind: ProblemKind, allowed: readonly T[], problems: Problems): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.add(kind, `${name} must be one of: ${allowed.join(', ')} (got "${value}")`);
  return undefined;
}

type ChoiceFlag = { [N in FlagName]: (typeof FLAGS)[N] extends { values: readonly string[] } ? N : never }[FlagName];
type DurationFlag = 'lockTimeout' | 'statementTimeout';

/** Reads a flag by its spec: the flag when given, else its environment variable; validated the same way for both. */
class FlagReader {
  constructor(
    private readonly flags: RawFlags,
    private readonly get: (name: string) => string | undefined,
    private readonly problems: Problems,
  ) {}

  /** The flag (or its variable), or undefined when neither is set; reports a value outside the spec's list. */
  choice<N extends ChoiceFlag>(name: N, problems = this.problems): (typeof FLAGS)[N]['values'][number] | undefined {
    const spec = FLAGS[name];
    const flagValue = this.flags[name] as string | undefined;
    const variable = 'env' in spec ? spec.env : undefined;
    const [label, value, kind]: [string, string | undefined, ProblemKind] =
      flagValue !== undefined ? [flagUsage(name), flagValue, 'flag'] : [variable ?? flagUsage(name), variable ? this.get(variable) : undefined, 'env'];
    return oneOf(label, value, kind, spec.values, problems);
  }

  /** A PostgreSQL-style duration from the flag or, failing that, the variable; the flag wins. */
  duration(name: DurationFlag): { ms: number; source: string } | undefined {
    const spec = FLAGS[name];
    const flagValue = this.flags[name];
    const [label, value, kind]: [string, string | undefined, ProblemKind] =
      flagValue !== undefined ? [flagUsage(name), flagValue, 'flag'] : [spec.env, this.get(spec.env), 'env'];
    if (value === undefined) return undefined;
    const parsed = parseDuration(label, value);
    if (parsed.ok) return { ms: parsed.ms, source: label };
    this.problems.add(kind, parsed.problem);
    return undefined;
  }
}

function definedOnly<T extends object>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter((entry) => entry[1] !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** Where a problem is fixed, which decides the hint. */
type ProblemKind = 'flag' | 'env' | 'connection';

/** Every configuration problem of a run, reported together in one TaskError whose hint fits what went wrong. */
class Problems {
  readonly #items: { kind: ProblemKind; text: string }[] = [];

  get size(): number {
    return this.#items.length;
  }

  add(kind: ProblemKind, text: string): void {
    this.#items.push({ kind, text });
  }

  flag(text: string): void {
    this.add('flag', text);
  }

  env(text: string): void {
    this.add('env', text);
  }

  toError(envFile: string | undefined): TaskError {
    const kinds = new Set(this.#items.map((item) => item.kind));
    const hints: string[] = [];
    if (kinds.has('connection')) {
      hints.push(
        'point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one',
      );
    }
    if (kinds.has('env')) {
      hints.push(`fix ${envFile ? `${path.basename(envFile)} or the environment` : 'the environment or .env (see .env.example)'}`);
    }
    if (kinds.has('flag')) hints.push('fix the flag (`gulp --tasks` lists every task with its flags)');
    const hint = `${hints.join('; ')}; then run the command again`;
    const texts = this.#items.map((item) => item.text);
    if (texts.length === 1) return new TaskError(texts[0]!, { hint });
    return new TaskError(`${texts.length} configuration problems:\n${texts.map((text) => `  - ${text}`).join('\n')}`, { hint });
  }
}
