import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, parseDatabaseUrl, type Config, type ConnectionSettings } from '../config';
import { TaskError, messageOf } from '../errors';
import { prepareDatabase } from '../init-scripts';
import type { KeptDatabaseState } from '../kept-state';
import { withClient } from '../pg-client';
import { poll } from '../poll';
import { freePort } from './free-port';
import { asIdentity, serverIdentity, type OsIdentity } from './os-user';
import { findPgBinaries, type PgBinaries } from './pg-binaries';
import { isOurProcess, stopProcess } from './process-control';
import { databaseHandle } from './handle';
import type { Provider } from './types';

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 3;
/** Settings for a throw-away server (not a kept one): durability buys nothing when the data dir is deleted after the run. */
const DISPOSABLE_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

/**
 * A real PostgreSQL server from local binaries, in a private temp dir, on 127.0.0.1 with scram password
 * authentication; as root, it runs as an unprivileged OS user (DB_OS_USER, default postgres).
 */
export const embeddedProvider: Provider = {
  name: 'embedded',

  async start(config, runtime) {
    const { logger, cleanups, secrets } = runtime;
    const identity = await serverIdentity(config.osUser);
    const binaries = await findPgBinaries(config.pgBin, identity);
    const tempDir = await makePrivateTempDir(identity);
    let pid: number | undefined;
    let initdb: RunningCommand | undefined;
    const stop = async () => {
      // Interrupted during initdb: let it go before deleting the folder it writes into.
      if (initdb) await initdb.kill();
      await stopAndRemove(pid, tempDir);
    };
    const unregister = cleanups.add('embedded server', stop);
    try {
      const superPassword = randomBytes(24).toString('base64url');
      secrets.add(superPassword);
      await initCluster(binaries, tempDir, superPassword, identity, (command) => (initdb = command));
      initdb = undefined;
      const server = await startServer(binaries, tempDir, superPassword, identity, config, (started) => (pid = started));
      const superuser: ConnectionSettings = { host: HOST, port: server.port, database: 'postgres', user: SUPERUSER, password: superPassword };
      await prepareDatabase(superuser, config.connection, config.initScriptsDir, logger);
      unregister();
      const state: KeptDatabaseState = {
        provider: 'embedded',
        url: buildUrl({ ...config.connection, host: HOST, port: server.port }),
        superuserUrl: buildUrl(superuser),
        pid: server.pid,
        tempDir,
        startedAt: new Date().toISOString(),
      };
      const description = `PostgreSQL ${binaries.version} (${binaries.source}) on ${HOST}:${server.port}, data in ${tempDir}`;
      return databaseHandle(state, description, () => stopAndRemove(server.pid, tempDir));
    } catch (error) {
      unregister();
      await stop().catch(() => undefined);
      throw error;
    }
  },

  async resume(state) {
    const { pid, tempDir } = state;
    if (pid === undefined || !tempDir || !(await isOurProcess(pid, tempDir))) return undefined;
    const port = parseDatabaseUrl(state.url, [])?.port;
    return databaseHandle(state, `PostgreSQL on ${HOST}:${port} (embedded, kept, data in ${tempDir})`, () => stopAndRemove(pid, tempDir));
  },
};


/** Stops the postmaster if it is still ours, then deletes its temp dir (data, socket, log). */
async function stopAndRemove(pid: number | undefined, tempDir: string): Promise<void> {
  if (pid !== undefined && (await isOurProcess(pid, tempDir))) await stopProcess(pid);
  await rm(tempDir, { recursive: true, force: true });
}

async function makePrivateTempDir(identity: OsIdentity): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgmt-'));
  await chmod(dir, 0o700);
  if (identity.uid !== undefined) await chown(dir, identity.uid, identity.gid!);
  return dir;
}

async function initCluster(
  binaries: PgBinaries,
  tempDir: string,
  superPassword: string,
  identity: OsIdentity,
  onSpawn: (command: RunningCommand) => void,
): Promise<void> {
  const passwordFile = path.join(tempDir, 'superuser-password');
  await writeFile(passwordFile, superPassword, { mode: 0o600 });
  if (identity.uid !== undefined) await chown(passwordFile, identity.uid, identity.gid!);
  const args = ['-D', path.join(tempDir, 'data'), '-U', SUPERUSER, '-A', 'scram-sha-256', `--pwfile=${passwordFile}`];
  args.push('-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions');
  try {
    const initdb = runCommand(path.join(binaries.binDir, 'initdb'), args, identity, tempDir);
    onSpawn(initdb);
    await initdb.done;
  } catch (error) {
    throw new TaskError(`initdb failed (${binaries.binDir}, as user "${identity.name}"): ${messageOf(error)}`, {
      hint: `user "${identity.name}" must be able to traverse ${os.tmpdir()} (set TMPDIR to another folder) and run the binaries (or set DB_PG_BIN)`,
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
  config: Config,
  onSpawn: (pid: number) => void,
): Promise<RunningServer> {
  const fixedPort = config.keepDb && config.portGiven ? config.connection.port : undefined;
  const logFile = path.join(tempDir, 'server.log');
  for (let attempt = 1; ; attempt += 1) {
    const port = fixedPort ?? (await freePort(HOST));
    const log = await open(logFile, 'a');
    const args = ['-D', path.join(tempDir, 'data'), '-p', String(port), '-k', tempDir, '-c', `listen_addresses=${HOST}`];
    if (!config.keepDb) for (const setting of DISPOSABLE_SETTINGS) args.push('-c', setting);
    let child: ChildProcess;
    let exited = false;
    try {
      child = spawn(path.join(binaries.binDir, 'postgres'), args, {
        ...asIdentity(identity),
        cwd: tempDir,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: serverEnv(),
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
    const ready = await poll(
      () => withClient(superUrl, async () => undefined, 2_000),
      { timeoutMs: config.waitTimeoutMs, intervalMs: 10, maxIntervalMs: 100 },
      () => exited,
    );
    if (ready.ok) return { pid: child.pid!, port };

    const logText = await readFile(logFile, 'utf8').catch(() => '');
    const portTaken = /could not bind|address already in use/i.test(logText);
    if (!exited) await stopProcess(child.pid!);
    if (portTaken && fixedPort === undefined && attempt < PORT_ATTEMPTS) continue;
    const tail = logText.trim().split('\n').slice(-5).join('\n    ');
    if (portTaken) {
      throw new TaskError(`port ${port} on ${HOST} is already in use, so the database server could not start`, {
        hint: fixedPort !== undefined ? 'set DB_PORT to a free port, or stop what is listening there (`gulp db:stop` if it is a kept database)' : 'run the command again',
      });
    }
    throw new TaskError(`the database server did not ${exited ? 'stay up' : 'accept connections'} (${messageOf(ready.lastError)})${tail ? `; its log ends:\n    ${tail}` : ''}`, {
      hint: exited ? 'fix what the log says, or pick other binaries with DB_PG_BIN' : 'raise DB_WAIT_TIMEOUT (or --timeout) on a slow machine',
    });
  }
}

/** A command started by runCommand: its completion, and a way to end it early. */
interface RunningCommand {
  /** Resolves when it exits with 0; rejects with its last output lines otherwise. */
  done: Promise<void>;
  /** Ends it (SIGTERM) and resolves once it has exited. */
  kill(): Promise<void>;
}

/**
 * Runs a command as `identity` in its own process group, so a Ctrl-C in the terminal reaches only gulp, whose
 * cleanup then ends it and waits for it before removing the files it writes.
 */
function runCommand(command: string, args: string[], identity: OsIdentity, cwd: string): RunningCommand {
  const child = spawn(command, args, { ...asIdentity(identity), cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const done = exited.then(({ code, signal, error }) => {
    if (error) throw error;
    if (code !== 0) throw new Error(`exit ${code ?? signal}: ${output.trim().split('\n').slice(-3).join(' / ')}`);
  });
  done.catch(() => undefined);
  return {
    done,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The server's environment: ours, without libpq variables that would point it elsewhere. */
function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('PG')) delete env[name];
  return env;
}
