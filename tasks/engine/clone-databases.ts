// Copies of a migrated database for parallel test workers (`gulp db:run --clones N`): CREATE DATABASE … TEMPLATE,
// which copies the files of the migrated database instead of running the migrations N times; and dropping them again.
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { withClient } from '../db/pg-client';
import { buildUrl, parseDatabaseUrl, type ConnectionParts } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';

/** One copy of the migrated database. */
export interface DatabaseClone {
  /** Its database name. */
  name: string;
  /** Its URL as the application role (password included: print it with redactUrl). */
  url: string;
}

/** The copies of one run, and what is needed to drop them. */
export interface DatabaseClones {
  /** The migrated database they are copies of. */
  template: string;
  /** Who created them (and drops them): the superuser of a server the tasks started, else the application role. */
  adminUrl: string;
  /** The copies made so far, in order: DATABASE_URL_1 is the first. */
  clones: DatabaseClone[];
}

export interface CloneDatabasesOptions {
  /** The migrated database, as the application role: the copies' URLs are this one with another database name. */
  url: string;
  /** Who runs CREATE DATABASE: the superuser URL of a server the tasks started; default: `url` (an external database). */
  adminUrl?: string;
  /** How many copies. */
  count: number;
  /** Where the copies are recorded as they are made (so an interruption half-way still knows what to drop). Default: a new one. */
  into?: DatabaseClones;
  /** How many CREATE DATABASE run at once (one connection each). Default 4. */
  concurrency?: number;
  /** Once aborted (Ctrl-C), no further copy is started; those made are returned. */
  signal?: AbortSignal;
  /**
   * Copy the files (`STRATEGY FILE_COPY`, PostgreSQL 15+) rather than WAL-log every block (the default since 15): about
   * three times faster for a small database on a throw-away server (fsync off), but each copy forces a checkpoint, which
   * a shared server should not pay. Default false.
   */
  fileCopy?: boolean;
}

/** PostgreSQL's limit on a database name, in bytes. */
const MAX_NAME_BYTES = 63;

/**
 * Makes `count` copies of the migrated database with `CREATE DATABASE … TEMPLATE`, owned by the application role, and
 * returns them (`<database>_<tag>_<i>`, the tag random per run so that concurrent runs on one server never collide).
 * Nothing else may be connected to the migrated database meanwhile. On failure, the copies made are dropped and a
 * TaskError says why (no right to create databases, other sessions on the template, …).
 * @example const { clones } = await cloneDatabases({ url: database.url, adminUrl: database.superuserUrl, count: 4 });
 */
export async function cloneDatabases({
  url,
  adminUrl = url,
  count,
  into,
  concurrency = 4,
  signal,
  fileCopy = false,
}: CloneDatabasesOptions): Promise<DatabaseClones> {
  const app = parseDatabaseUrl(url, []);
  const admin = parseDatabaseUrl(adminUrl, []);
  if (!app || !admin) throw new TaskError('--clones: the database URL does not parse (expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE)');
  const result: DatabaseClones = into ?? { template: app.database, adminUrl, clones: [] };
  const tag = randomBytes(3).toString('hex');
  const names = Array.from({ length: count }, (_, index) => cloneName(app.database, tag, index + 1));
  // The owner is the application role, so the tests may do in a copy what they may in the migrated database; a role
  // that creates its own copies owns them anyway (and may not name another owner).
  const owner = admin.user === app.user ? '' : ` OWNER ${quoteIdent(app.user)}`;
  const create = async (client: Client, name: string, strategy: string) => {
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(app.database)}${owner}${strategy}`);
    } catch (error) {
      throw await explainCreateFailure(client, error, app, admin);
    }
    return { name, url: buildUrl({ ...app, database: name }) };
  };
  const made: (DatabaseClone | undefined)[] = [];
  try {
    let next = 0;
    const worker = () =>
      withMaintenanceClient(admin, async (client) => {
        const strategy = fileCopy && (await serverVersion(client)) >= 150_000 ? ' STRATEGY FILE_COPY' : '';
        while (next < names.length && !signal?.aborted) {
          const index = next;
          next += 1;
          const clone = await create(client, names[index]!, strategy);
          made[index] = clone;
          result.clones.push(clone);
        }
      });
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error) {
    await dropClones(result).catch(() => undefined);
    result.clones.length = 0;
    throw error;
  }
  // In index order, whatever order the workers finished in: DATABASE_URL_1 is `<database>_<tag>_1`.
  result.clones.splice(0, result.clones.length, ...made.filter((clone): clone is DatabaseClone => clone !== undefined));
  return result;
}

/**
 * Drops the copies (`DROP DATABASE … WITH (FORCE)` from PostgreSQL 13 on, so a test's leftover connection does not keep
 * one alive). Tries every one; throws the first failure after.
 * @example await dropClones(clones);
 */
export async function dropClones({ adminUrl, clones }: DatabaseClones): Promise<void> {
  if (clones.length === 0) return;
  const admin = parseDatabaseUrl(adminUrl, []);
  if (!admin) return;
  await withMaintenanceClient(admin, async (client) => {
    const force = (await serverVersion(client)) >= 130_000 ? ' WITH (FORCE)' : '';
    let firstFailure: unknown;
    for (const { name } of clones) {
      try {
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force}`);
      } catch (error) {
        firstFailure ??= new TaskError(`could not drop the copy ${name}: ${messageOf(error)}`, {
          hint: `drop it yourself: DROP DATABASE ${quoteIdent(name)}`,
        });
      }
    }
    if (firstFailure !== undefined) throw firstFailure;
  });
}

/**
 * The environment a command run against the migrated database gets: DATABASE_URL and its parts DB_HOST, DB_PORT,
 * DB_NAME, DB_USER, DB_PASSWORD (the names the settings read), and DATABASE_URL_1 … DATABASE_URL_N for the copies.
 * DATABASE_URL_<n> inherited from `base` are removed, so a worker never picks up one of another run.
 * @example spawn('sh', ['-c', 'npm test'], { env: databaseEnv(process.env, database.url, clones) })
 */
export function databaseEnv(
  base: Readonly<Record<string, string | undefined>>,
  url: string,
  clones: readonly DatabaseClone[] = [],
): Record<string, string | undefined> {
  const parts = parseDatabaseUrl(url, []);
  const env = Object.fromEntries(Object.entries(base).filter(([name]) => !/^DATABASE_URL_\d+$/.test(name)));
  Object.assign(env, { DATABASE_URL: url });
  if (parts) {
    Object.assign(env, { DB_HOST: parts.host, DB_PORT: String(parts.port), DB_NAME: parts.database, DB_USER: parts.user, DB_PASSWORD: parts.password });
  }
  clones.forEach((clone, index) => (env[`DATABASE_URL_${index + 1}`] = clone.url));
  return env;
}

/** `<database>_<tag>_<i>`, the database part shortened to fit PostgreSQL's 63 bytes. */
export function cloneName(database: string, tag: string, index: number): string {
  const suffix = `_${tag}_${index}`;
  const characters = Array.from(database);
  while (Buffer.byteLength(characters.join('') + suffix) > MAX_NAME_BYTES) characters.pop();
  return `${characters.join('')}${suffix}`;
}

async function serverVersion(client: Client): Promise<number> {
  return Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A session on the server outside the migrated database (a template may have no other session): `postgres`, else
 * `template1` when the role may not connect to `postgres`.
 */
async function withMaintenanceClient<T>(admin: ConnectionParts, work: (client: Client) => Promise<T>): Promise<T> {
  let firstFailure: unknown;
  for (const database of ['postgres', 'template1']) {
    let connected = false;
    try {
      return await withClient(buildUrl({ ...admin, database }), (client) => {
        connected = true;
        return work(client);
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      // 3D000 no such database, 42501 no CONNECT right, 28000 no pg_hba.conf entry for it: try the next one.
      if (connected || !['3D000', '42501', '28000'].includes(code ?? '')) throw error;
      firstFailure ??= error;
    }
  }
  throw new TaskError(
    `--clones: ${admin.user} may connect to neither the postgres nor the template1 database at ${admin.host}:${admin.port} (${messageOf(firstFailure)})`,
    { hint: 'CREATE DATABASE runs from a session outside the copied database: allow the role to connect to postgres, or run without --clones' },
  );
}

/** What to do when CREATE DATABASE … TEMPLATE fails, in the terms of --clones. */
async function explainCreateFailure(client: Client, error: unknown, app: ConnectionParts, admin: ConnectionParts): Promise<unknown> {
  const code = (error as { code?: string }).code;
  const where = `${admin.host}:${admin.port}`;
  const without = 'or run without --clones';
  if (code === '42501') {
    return new TaskError(`--clones: role ${admin.user} may not copy the database ${app.database} at ${where}: ${messageOf(error)}`, {
      hint:
        'CREATE DATABASE … TEMPLATE needs a role with CREATEDB that owns the migrated database (ALTER ROLE … CREATEDB), ' +
        `or a server of the run's own (DB_PROVIDER=embedded or docker, where the superuser makes the copies); ${without}`,
    });
  }
  if (code === '55006') {
    const others = await client
      .query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [app.database])
      .then((rows) => Number(rows.rows[0]?.n ?? 0))
      .catch(() => undefined);
    const sessions = others === undefined ? 'other sessions are' : `${others} other session${others === 1 ? ' is' : 's are'}`;
    return new TaskError(`--clones: ${sessions} connected to ${app.database} at ${where}, and CREATE DATABASE … TEMPLATE copies only an idle database`, {
      hint: `close them (an app, psql, a GUI client) and run the command again, ${without}`,
    });
  }
  return new TaskError(`--clones: could not copy ${app.database} at ${where}: ${messageOf(error)}`, { hint: `check the server's log, ${without}` });
}
