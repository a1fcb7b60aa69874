import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../util/package-root';
import { buildUrl, type ConnectionParts } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import { prepareDatabase, readInitScripts } from '../db/init-scripts';
import type { Logger } from '../util/logger';
import { withClient } from '../db/pg-client';
import { poll } from '../util/poll';
import { requiredExtensions } from './migration-extensions';
import { PGLITE_DEFAULT_EXTENSIONS, pgliteAvailableExtensions } from './pglite-extensions';
import { MESSAGE_PREFIX, type ServerMessage } from './pglite-protocol';
import type { DatabaseSettings, Provider, StartedDatabase } from './types';

const HOST = '127.0.0.1';
/** PGlite has one session, as this user, in this database, whatever a client asks for. */
const PGLITE_USER = 'postgres';
const PGLITE_DATABASE = 'postgres';
/** A process of its own, not a task (it ends its own process once PGlite is closed), so it lives outside tasks/. */
/** How long the child may take to end after SIGTERM before it is killed. */
const STOP_GRACE_MS = 2_000;
/** Lines of the child's stderr kept for an error message. */
const STDERR_LINES = 5;

/**
 * PostgreSQL compiled to WebAssembly (PGlite), in memory, served over the wire protocol on 127.0.0.1 and a free port
 * by a child process, with pgvector, uuid-ossp, pg_trgm, pgcrypto and whatever else the migrations create (and PGlite
 * ships) preloaded. Needs no native binaries, no OS user and no Docker. Its limits: one shared session (advisory locks
 * do not exclude; session settings are shared; transactions of different connections run one after the other), and
 * credentials and the database name of a URL are ignored. It cannot be kept (KEEP_DB=1, db:start).
 */
export const pgliteProvider: Provider = {
  name: 'pglite',

  async start(settings, runtime) {
    const { logger, cleanups } = runtime;
    if (settings.provider.keepDb) throw cannotKeep();
    const extensions = await extensionsToLoad(settings, logger);
    const started = performance.now();
    const server = spawnServer(extensions);
    const unregister = cleanups.add('pglite server', server.stop);
    try {
      const { port, version } = await server.ready(settings.provider.waitTimeoutMs);
      const superuser: ConnectionParts = { host: HOST, port, database: PGLITE_DATABASE, user: PGLITE_USER, password: '' };
      await waitForConnections(buildUrl(superuser), settings.provider.waitTimeoutMs);
      await runInitScripts(settings, superuser, logger);
      logger.debug?.(`PGlite server ready in ${Math.round(performance.now() - started)} ms (extensions ${extensions.join(', ')})`);
      unregister();
      const versions = describeVersion(version);
      logger.info(
        `${versions.short}: one shared session — advisory locks do not exclude, credentials and the database name are ignored ` +
          `(everything runs as ${PGLITE_USER} in database ${PGLITE_DATABASE}), nothing is kept after the run`,
      );
      const url = buildUrl(superuser);
      return handle(url, `${versions.long} on ${HOST}:${port}, in memory, extensions ${extensions.join(', ')}`, server.stop);
    } catch (error) {
      unregister();
      await server.stop().catch(() => undefined);
      throw error;
    }
  },
};

/** The running child, its readiness and its end. */
interface PgliteServer {
  ready(timeoutMs: number): Promise<{ port: number; version: string }>;
  /** Ends the child (SIGTERM, SIGKILL after a grace period) and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

function spawnServer(extensions: string[]): PgliteServer {
  const child = spawn(process.execPath, [...pgliteServerScript(), '--host', HOST, '--extensions', extensions.join(',')], {
    // Its own process group: a Ctrl-C in the terminal reaches only gulp, whose cleanup then ends the child.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(...chunk.split('\n').filter((line) => line.trim()));
    stderr.splice(0, Math.max(0, stderr.length - STDERR_LINES));
  });
  const message = new Promise<ServerMessage | undefined>((resolve) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (!line.startsWith(MESSAGE_PREFIX)) continue;
        try {
          resolve(JSON.parse(line.slice(MESSAGE_PREFIX.length)) as ServerMessage);
        } catch {
          resolve({ error: `unreadable message from the server: ${line}` });
        }
      }
    });
    child.once('exit', () => resolve(undefined));
    child.once('error', () => resolve(undefined));
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  // Neither the child nor its pipes keep gulp alive; the open stdin pipe is the child's lifeline: when this process
  // ends, however (even SIGKILL), the pipe closes and the child ends too.
  unrefAll(child);

  let stopped: Promise<void> | undefined;
  return {
    async ready(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      // While waiting, the child must keep this process alive.
      child.ref();
      const result = await Promise.race([message, timeout]).finally(() => {
        clearTimeout(timer);
        child.unref();
      });
      if (result === 'timeout') {
        throw new TaskError(`the PGlite server did not start within ${timeoutMs / 1000} s`, {
          hint: 'raise DB_WAIT_TIMEOUT (or --timeout) on a slow machine: PGlite needs 2.5–6 s and ~500 MB of memory to start',
        });
      }
      if (result && 'port' in result) return result;
      const why = result?.error ?? spawnError?.message ?? `it ended (exit ${child.exitCode ?? child.signalCode})`;
      const tail = stderr.length > 0 ? `; its output ends:\n    ${stderr.join('\n    ')}` : '';
      throw new TaskError(`the PGlite server could not start: ${why}${tail}`, {
        hint: 'run `npm install` (it needs @electric-sql/pglite and @electric-sql/pglite-socket), or use DB_PROVIDER=embedded',
      });
    },
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
        child.ref();
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_GRACE_MS))),
        ]);
        clearTimeout(timer);
        if (late) {
          child.kill('SIGKILL');
          await exited;
        }
      })()),
  };
}

function unrefAll(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
}

/** PGlite accepts connections a moment after it says it listens; `SELECT 1` through `pg` proves the wire protocol works. */
async function waitForConnections(url: string, timeoutMs: number): Promise<void> {
  const ready = await poll(() => withClient(url, (client) => client.query('SELECT 1'), 5_000), { timeoutMs, intervalMs: 20, maxIntervalMs: 200 });
  if (ready.ok) return;
  throw new TaskError(`the PGlite server did not accept connections: ${messageOf(ready.lastError)}`, {
    hint: 'raise DB_WAIT_TIMEOUT (or --timeout) on a slow machine, or use DB_PROVIDER=embedded',
    cause: ready.lastError,
  });
}

/**
 * The init scripts (they create the application role) run in PGlite's one database. The role then exists for
 * migrations that grant to it, but connections still run as the superuser. A script PGlite cannot run is skipped with
 * a warning: the database works without it.
 */
async function runInitScripts(settings: DatabaseSettings, superuser: ConnectionParts, logger: Logger): Promise<void> {
  const scripts = await readInitScripts(settings.provider.initScriptsDir);
  const { user, password } = settings.connection;
  try {
    await prepareDatabase(superuser, { database: PGLITE_DATABASE, user, password }, scripts, logger);
  } catch (error) {
    logger.warn(`Skipped the init scripts on PGlite: ${messageOf(error).split('\n')[0]}`);
  }
}

/**
 * pgvector, uuid-ossp, pg_trgm and pgcrypto, and every other extension the migrations create that PGlite ships. One
 * PGlite lacks is named now: the migration that creates it would fail.
 */
async function extensionsToLoad(settings: DatabaseSettings, logger: Logger): Promise<string[]> {
  const available = pgliteAvailableExtensions();
  const wanted = new Set<string>(PGLITE_DEFAULT_EXTENSIONS.filter((name) => available.has(name)));
  const lacking: string[] = [];
  for (const { name, file } of await requiredExtensions(settings.source.migrationsDir)) {
    if (available.has(name)) wanted.add(name);
    else lacking.push(`${name} (${file})`);
  }
  if (lacking.length > 0) {
    const pgvector = lacking.some((entry) => entry.startsWith('vector '))
      ? ' (pgvector needs the package @electric-sql/pglite-pgvector: `npm install @electric-sql/pglite-pgvector`)'
      : '';
    logger.warn(
      `PGlite here lacks extension ${lacking.join(', ')}: the migration that creates it will fail${pgvector}; DB_PROVIDER=docker with an image that has it would work`,
    );
  }
  return [...wanted].filter((name) => name !== 'plpgsql');
}

/** "PostgreSQL 18.6 (PGlite 0.5.14) on wasm32-…" → "PGlite 0.5.14 (WASM PostgreSQL 18.6)" and the long form. */
function describeVersion(version: string): { short: string; long: string } {
  const postgres = /PostgreSQL (\S+)/.exec(version)?.[1] ?? '?';
  const pglite = /PGlite (\S+?)\)/.exec(version)?.[1];
  const name = pglite ? `PGlite ${pglite}` : 'PGlite';
  return { short: `${name} (WASM PostgreSQL ${postgres})`, long: `PostgreSQL ${postgres} (${name}, WASM)` };
}

function handle(url: string, description: string, stop: () => Promise<void>): StartedDatabase {
  return { provider: 'pglite', url, superuserUrl: url, description, stop };
}

function cannotKeep(): TaskError {
  return new TaskError(
    'PGlite cannot keep a database running (KEEP_DB=1, db:start, watch --apply): its database lives in the memory of a child process that ends with this run',
    {
      hint: 'run without KEEP_DB (`gulp migrate:local`), or keep a real server: DB_PROVIDER=embedded, or DB_PROVIDER=docker with DB_IMAGE=pgvector/pgvector:pg15 when the migrations need pgvector',
    },
  );
}

/**
 * How to run the PGlite server child: from the sources, `postgres/pglite-server.ts` through the TypeScript loader; from
 * the build, `dist/cjs/postgres/pglite-server.js` as it is (the build keeps postgres/ beside tasks/).
 */
function pgliteServerScript(): string[] {
  if (path.extname(__filename) !== '.ts') return [path.join(__dirname, '..', '..', 'postgres', 'pglite-server.js')];
  return ['-r', path.join(packageRoot(), 'loader', 'register-ts.cjs'), path.join(__dirname, '..', '..', 'postgres', 'pglite-server.ts')];
}
