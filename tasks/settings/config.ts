import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { parseDuration } from './duration';
import { TaskError } from '../util/errors';
import { MIGRATE_AS, type MigrateAs } from '../engine/migration-role';
import { describeUnknownFlag, flagUsage, parseFlags, type FlagName } from './flags';
import { readKeptStateSync } from './kept-state';

export const PROVIDER_NAMES = ['auto', 'embedded', 'docker', 'compose', 'external', 'pglite'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
export const DIRECTIONS = ['up', 'down'] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const MIGRATION_LANGUAGES = ['ts', 'js', 'sql'] as const;
export const LINT_FORMATS = ['text', 'json'] as const;
export const LOCK_MODES = ['fail', 'wait'] as const;
export type LockMode = (typeof LOCK_MODES)[number];
export type MigrationLanguage = (typeof MIGRATION_LANGUAGES)[number];

/** Role, database and address the application (and its migrations) connect with. */
export interface ConnectionSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

/** Everything the tasks need, resolved once from flags, the environment and `.env`, and validated. */
export interface Config {
  projectDir: string;
  /** The `.env` file that was loaded, if any. */
  envFile?: string;
  /** Connection URL: DATABASE_URL as given, or assembled from the parts. */
  url: string;
  connection: ConnectionSettings;
  /** Where the connection came from, for messages. */
  connectionSource: 'DATABASE_URL' | 'DB_* variables' | 'kept database' | 'defaults';
  /** True when DB_PASSWORD was not given and one was generated for a disposable database. */
  passwordGenerated: boolean;
  /** True when DB_PORT (or the URL) named a port, which a disposable server then uses only with KEEP_DB. */
  portGiven: boolean;
  provider: ProviderName;
  /** Where the provider choice came from, for messages. */
  providerSource: '--provider' | 'DB_PROVIDER' | 'default';
  keepDb: boolean;
  waitTimeoutMs: number;
  migrationsDir: string;
  /** --ignore-pattern / MIGRATIONS_IGNORE_PATTERN (node-pg-migrate's ignorePattern); undefined: DEFAULT_IGNORE_PATTERN. */
  ignorePattern?: string;
  migrationsTable: string;
  /** SQL scripts run as superuser on every database the tasks start (creates the application role). */
  initScriptsDir: string;
  /** docker provider: image; compose provider: compose file. */
  image: string;
  composeFile: string;
  /** embedded provider: a bin dir to use instead of searching; the OS user the server runs as under root. */
  pgBin?: string;
  osUser: string;
  /** DB_MIGRATE_AS: run migrations as the application role (default) or as the superuser of a server the tasks started. */
  migrateAs: MigrateAs;
  /** embedded provider: DB_PG_VERSION, which of the binaries found to use (a major, or major.minor); default: the newest. */
  pgVersion?: string;
  /** embedded provider: DB_CLUSTER_CACHE, where initdb results are cached ("off": run initdb every time). */
  clusterCache?: string;
  /** From the flags; undefined when not given, so the task's own default applies. */
  direction?: Direction;
  count?: number;
  singleTransaction: boolean;
  /** --dry-run: print the SQL, change nothing. */
  dryRun: boolean;
  /** migrate:create: --name as given (validated by the task) and --lang. */
  name?: string;
  lang?: MigrationLanguage;
  /** migrate:status: --json output, --accept missing checksums. */
  json: boolean;
  accept: boolean;
  /** lint: --format. */
  format: (typeof LINT_FORMATS)[number];
  /** migrate: false with --no-lint (skip the lint pre-flight). */
  lint: boolean;
  /** watch: --apply. */
  apply: boolean;
  /**
   * --lock-timeout / DB_LOCK_TIMEOUT in ms, set as the migration session's lock_timeout (0: none); undefined: the
   * server's setting applies.
   */
  lockTimeoutMs?: number;
  /** --statement-timeout / DB_STATEMENT_TIMEOUT in ms, set as the session's statement_timeout; undefined: the server's. */
  statementTimeoutMs?: number;
  /** Where each timeout came from, for messages: the flag or the variable. */
  timeoutSources: { lockTimeout?: string; statementTimeout?: string };
  /** --lock-mode / DB_LOCK_MODE: when another run holds the migration lock, fail at once (default) or wait up to waitTimeoutMs. */
  lockMode: LockMode;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 5432,
  database: 'contenthub',
  user: 'contentuser',
  waitTimeoutSeconds: 30,
  migrationsDir: 'migrations',
  migrationsTable: 'pgmigrations',
  initScriptsDir: 'postgres/init',
  image: 'postgres:15.8-alpine',
  composeFile: 'docker-compose.yml',
  osUser: 'postgres',
} as const;

const PART_VARIABLES = ['DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD'] as const;

export interface ResolveConfigOptions {
  /** Environment variables (real ones win over `.env`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments after `node gulp`. */
  argv: readonly string[];
  /** Project folder: `.env`, migrations and the kept-database record are found from here. */
  cwd: string;
  /** True when the caller will start its own database, so missing DB_* fall back to defaults. */
  startsDatabase: boolean;
  /** True when the caller will migrate: a missing migrations folder is then a problem reported before anything starts. */
  checkMigrationsDir?: boolean;
  /** False for tasks that never connect (migrate:create): connection settings are then neither required nor checked. Default true. */
  connects?: boolean;
  /** The flags the running task takes; any other of our flags is reported. Default: all. */
  allowedFlags?: readonly FlagName[];
}

/**
 * Resolves and validates the configuration. Every problem is collected and reported in one TaskError.
 * @example resolveConfig({ env: process.env, argv: process.argv.slice(2), cwd: process.cwd(), startsDatabase: true })
 */
export function resolveConfig({ env, argv, cwd, startsDatabase, checkMigrationsDir = false, connects = true, allowedFlags }: ResolveConfigOptions): Config {
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

  // A task that never connects (migrate:create) neither needs nor checks the connection settings.
  const connectionProblems = connects ? problems : new Problems();
  const provider = oneOf('--provider', flags.provider, 'DB_PROVIDER', get('DB_PROVIDER'), PROVIDER_NAMES, connectionProblems) ?? 'auto';
  const keepDb = parseBoolean('KEEP_DB', get('KEEP_DB'), connectionProblems);
  const external = connects && (!startsDatabase || provider === 'external');
  const connection =
    resolveConnection(get, external, cwd, connectionProblems) ?? (connects ? undefined : resolveConnection(() => undefined, false, cwd, new Problems()));

  const fromFlag = flags.timeout !== undefined;
  const timeoutText = flags.timeout ?? get('DB_WAIT_TIMEOUT');
  let waitTimeoutSeconds = timeoutText === undefined ? DEFAULTS.waitTimeoutSeconds : Number(timeoutText);
  if (!(waitTimeoutSeconds > 0) || !Number.isFinite(waitTimeoutSeconds)) {
    connectionProblems.add(fromFlag ? 'flag' : 'env', `${fromFlag ? '--timeout' : 'DB_WAIT_TIMEOUT'} must be a positive number of seconds, got "${timeoutText}"`);
    waitTimeoutSeconds = DEFAULTS.waitTimeoutSeconds;
  }

  const direction = oneOf('--direction', flags.direction, undefined, undefined, DIRECTIONS, problems);
  const count = parseCount(flags.count, problems);
  const lang = oneOf('--lang', flags.lang, undefined, undefined, MIGRATION_LANGUAGES, problems);
  const format = oneOf('--format', flags.format, undefined, undefined, LINT_FORMATS, problems) ?? 'text';
  const lockMode = oneOf('--lock-mode', flags.lockMode, 'DB_LOCK_MODE', get('DB_LOCK_MODE'), LOCK_MODES, problems) ?? 'fail';
  const lockTimeout = parseTimeout('--lock-timeout', flags.lockTimeout, 'DB_LOCK_TIMEOUT', get('DB_LOCK_TIMEOUT'), problems);
  const statementTimeout = parseTimeout('--statement-timeout', flags.statementTimeout, 'DB_STATEMENT_TIMEOUT', get('DB_STATEMENT_TIMEOUT'), problems);
  const migrateAs = oneOf('DB_MIGRATE_AS', undefined, 'DB_MIGRATE_AS', get('DB_MIGRATE_AS'), MIGRATE_AS, problems) ?? 'app';
  const ignorePattern = flags.ignorePattern ?? get('MIGRATIONS_IGNORE_PATTERN');
  if (ignorePattern !== undefined) {
    try {
      new RegExp(`^${ignorePattern}$`);
    } catch (error) {
      problems.add(flags.ignorePattern !== undefined ? 'flag' : 'env', `--ignore-pattern is not a valid regular expression (${(error as Error).message})`);
    }
  }
  const pgVersion = get('DB_PG_VERSION');
  if (pgVersion !== undefined && !/^\d+(\.\d+)?$/.test(pgVersion)) problems.env(`DB_PG_VERSION must be a PostgreSQL version such as 15 or 18.4, got "${pgVersion}"`);
  const migrationsDir = path.resolve(cwd, flags.migrationsDir ?? get('MIGRATIONS_DIR') ?? DEFAULTS.migrationsDir);
  if (checkMigrationsDir && !statSync(migrationsDir, { throwIfNoEntry: false })?.isDirectory()) {
    const kind = flags.migrationsDir !== undefined ? 'flag' : 'env';
    const problem = existsSync(migrationsDir) ? 'is a file, not a folder' : 'does not exist';
    problems.add(kind, `migrations folder ${path.relative(cwd, migrationsDir) || migrationsDir}/ ${problem} (set MIGRATIONS_DIR or --migrations-dir to the folder that holds them)`);
  }

  if (problems.size > 0) throw problems.toError(existsSync(envFile) ? envFile : undefined);
  const resolved = connection!;
  return {
    projectDir: cwd,
    envFile: existsSync(envFile) ? envFile : undefined,
    ...resolved,
    provider,
    providerSource: flags.provider !== undefined ? '--provider' : get('DB_PROVIDER') !== undefined ? 'DB_PROVIDER' : 'default',
    keepDb,
    waitTimeoutMs: Math.round(waitTimeoutSeconds * 1000),
    migrationsDir,
    ignorePattern,
    migrationsTable: get('MIGRATIONS_TABLE') ?? DEFAULTS.migrationsTable,
    initScriptsDir: path.resolve(cwd, get('DB_INIT_SCRIPTS') ?? DEFAULTS.initScriptsDir),
    image: get('DB_IMAGE') ?? DEFAULTS.image,
    composeFile: path.resolve(cwd, get('COMPOSE_FILE') ?? DEFAULTS.composeFile),
    pgBin: get('DB_PG_BIN'),
    osUser: get('DB_OS_USER') ?? DEFAULTS.osUser,
    clusterCache: get('DB_CLUSTER_CACHE'),
    pgVersion,
    migrateAs,
    direction,
    count,
    singleTransaction: flags.singleTransaction ?? true,
    dryRun: flags.dryRun ?? false,
    name: flags.name,
    lang,
    json: flags.json ?? false,
    accept: flags.accept ?? false,
    format,
    lint: flags.lint ?? true,
    apply: flags.apply ?? false,
    lockTimeoutMs: lockTimeout?.ms,
    statementTimeoutMs: statementTimeout?.ms,
    timeoutSources: { lockTimeout: lockTimeout?.source, statementTimeout: statementTimeout?.source },
    lockMode,
  };
}

type ResolvedConnection = Pick<Config, 'url' | 'connection' | 'connectionSource' | 'passwordGenerated' | 'portGiven'>;

function resolveConnection(
  get: (name: string) => string | undefined,
  external: boolean,
  cwd: string,
  problems: Problems,
): ResolvedConnection | undefined {
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl) {
    const urlProblems: string[] = [];
    const connection = parseDatabaseUrl(databaseUrl, urlProblems);
    for (const problem of urlProblems) problems.env(problem);
    if (!connection) return undefined;
    return { url: databaseUrl, connection, connectionSource: 'DATABASE_URL', passwordGenerated: false, portGiven: true };
  }

  const missing = PART_VARIABLES.filter((name) => get(name) === undefined);
  const portText = get('DB_PORT');
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText !== undefined && port === undefined) {
    problems.env(`DB_PORT must be a port number from 1 to 65535, got "${portText}"`);
  }

  if (missing.length === 0) {
    const connection = { host: get('DB_HOST')!, port: port ?? 0, database: get('DB_NAME')!, user: get('DB_USER')!, password: get('DB_PASSWORD')! };
    return { url: buildUrl(connection), connection, connectionSource: 'DB_* variables', passwordGenerated: false, portGiven: true };
  }

  const kept = readKeptStateSync(cwd);
  const keptConnection = kept ? parseDatabaseUrl(kept.url, []) : undefined;
  if (external && !keptConnection) {
    problems.add('connection', `DATABASE_URL is required: set it, or set ${PART_VARIABLES.join(', ')} (missing: ${missing.join(', ')})`);
    return undefined;
  }
  const fallback = keptConnection ?? {
    host: DEFAULTS.host,
    port: DEFAULTS.port,
    database: DEFAULTS.database,
    user: DEFAULTS.user,
    password: randomBytes(18).toString('base64url'),
  };
  const connection: ConnectionSettings = {
    host: get('DB_HOST') ?? fallback.host,
    port: port ?? fallback.port,
    database: get('DB_NAME') ?? fallback.database,
    user: get('DB_USER') ?? fallback.user,
    password: get('DB_PASSWORD') ?? fallback.password,
  };
  return {
    url: buildUrl(connection),
    connection,
    connectionSource: keptConnection ? 'kept database' : missing.length === PART_VARIABLES.length ? 'defaults' : 'DB_* variables',
    passwordGenerated: !keptConnection && get('DB_PASSWORD') === undefined,
    portGiven: portText !== undefined || keptConnection !== undefined,
  };
}

/** Parses a postgres:// or postgresql:// URL into its parts; reports a problem (without the password) when it can't. */
export function parseDatabaseUrl(url: string, problems: string[]): ConnectionSettings | undefined {
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
    problems.push(`DATABASE_URL does not parse as intended: what follows the host looks like the rest of a password (special characters in the password must be percent-encoded; ${expected})`);
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
export function buildUrl({ host, port, database, user, password }: ConnectionSettings): string {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  return `postgresql://${auth}@${hostPart}:${port}/${encodeURIComponent(database)}`;
}

function parsePort(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65_535 ? port : undefined;
}

function parseCount(text: string | undefined, problems: Problems): number | undefined {
  if (text === undefined) return undefined;
  if (text === 'all') return Number.POSITIVE_INFINITY;
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
  problems.flag(`--count must be a positive whole number or "all", got "${text}"`);
  return undefined;
}

/** A PostgreSQL-style duration from the flag or, failing that, the variable; the flag wins. */
function parseTimeout(
  flagName: string,
  flagValue: string | undefined,
  variableName: string,
  variableValue: string | undefined,
  problems: Problems,
): { ms: number; source: string } | undefined {
  const fromFlag = flagValue !== undefined;
  const [name, value] = fromFlag ? [flagName, flagValue] : [variableName, variableValue];
  if (value === undefined) return undefined;
  const parsed = parseDuration(name, value);
  if (parsed.ok) return { ms: parsed.ms, source: name };
  problems.add(fromFlag ? 'flag' : 'env', parsed.problem);
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

/** Validates a value against a list; the flag wins over the variable. */
function oneOf<T extends string>(
  flagName: string,
  flagValue: string | undefined,
  variableName: string | undefined,
  variableValue: string | undefined,
  allowed: readonly T[],
  problems: Problems,
): T | undefined {
  const fromFlag = flagValue !== undefined;
  const [name, value] = fromFlag ? [flagName, flagValue] : [variableName, variableValue];
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.add(fromFlag ? 'flag' : 'env', `${name} must be one of: ${allowed.join(', ')} (got "${value}")`);
  return undefined;
}

function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
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
      hints.push('point DATABASE_URL (or DB_*) in .env at a running database (`gulp db:start` starts one that stays up), or use `gulp migrate:local` for a throw-away one');
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
