import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, DEFAULTS, parseDatabaseUrl, type ConnectionParts, type ProviderSettings } from '../settings/settings';
import { packageRoot } from '../util/package-root';
import { TaskError, messageOf } from '../util/errors';
import { prepareDatabase, readInitScripts } from '../db/init-scripts';
import type { KeptDatabaseState } from '../settings/kept-state';
import { redactSecrets } from '../util/logger';
import { dockerComposeAvailable, DockerCommandError, lastLines, runDocker, shortCause, waitForServer } from './container-runtime';
import { freePort } from './free-port';
import { databaseHandle } from './handle';
import type { DatabaseSettings, Provider } from './types';

const SERVICE = 'postgres';
const SUPERUSER = 'postgres';
const CONTAINER_PORT = 5432;
/** The compose file publishes the port on loopback only. */
const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 3;
/** `up` may pull the image first, which can take minutes; the service's healthcheck bounds the wait for readiness. */
const UP_TIMEOUT_MS = 10 * 60_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** Which compose project, from which file (the file may be gone by the time a kept project is stopped). */
interface ComposeTarget {
  file?: string;
  project: string;
}

/**
 * The `postgres` service of the project's compose file (COMPOSE_FILE, default docker-compose.yml), started under a
 * project name of its own so it never touches a database someone started by hand from the same file.
 */
export const composeProvider: Provider = {
  name: 'compose',

  async start(settings, runtime) {
    const { logger, cleanups, secrets } = runtime;
    const file = composeFileOf(settings.provider);
    if (file !== settings.provider.composeFile)
      logger.info(`No ${displayPath(settings.provider.composeFile)} in the project: using the compose file bundled with pg-migrate-tasks (${file})`);
    if (!existsSync(file)) {
      throw new TaskError(`compose file ${displayPath(file)} not found`, {
        hint: `set COMPOSE_FILE to a compose file with a "${SERVICE}" service, or use DB_PROVIDER=docker or DB_PROVIDER=embedded`,
      });
    }
    const availability = await dockerComposeAvailable();
    if (!availability.available) {
      throw new TaskError(`cannot start the database with docker compose: ${availability.reason}`, {
        hint: 'start Docker with its compose plugin (`docker info` and `docker compose version` must answer), or use DB_PROVIDER=embedded',
      });
    }

    const target: ComposeTarget = {
      file,
      project: settings.provider.keepDb ? keptProjectName(settings.provider.projectDir) : `pgmt-${randomBytes(4).toString('hex')}`,
    };
    const superPassword = randomBytes(24).toString('base64url');
    secrets.add(superPassword);
    const hide = (text: string) => redactSecrets(text, [superPassword, settings.connection.password]);
    const stop = () => composeDown(target);
    // Registered before `up`: whatever it manages to create before failing (or a Ctrl-C) is taken down again.
    const unregister = cleanups.add(`compose project ${target.project}`, stop);
    try {
      const port = await composeUp(target, settings, superPassword, hide);
      const superuser: ConnectionParts = { host: HOST, port, database: 'postgres', user: SUPERUSER, password: superPassword };
      await waitForServer(superuser, settings.provider.waitTimeoutMs, `the "${SERVICE}" service of compose project ${target.project}`);
      // The image's entrypoint already ran the init scripts on first start; they are idempotent, and running them
      // here too applies DB_INIT_SCRIPTS when it is not the folder the compose file mounts.
      await prepareDatabase(superuser, settings.connection, await readInitScripts(settings.provider.initScriptsDir), logger);
      unregister();
      const state: KeptDatabaseState = {
        provider: 'compose',
        url: buildUrl({ ...settings.connection, host: HOST, port }),
        superuserUrl: buildUrl(superuser),
        composeProject: target.project,
        composeFile: file,
        startedAt: new Date().toISOString(),
      };
      return databaseHandle(state, `PostgreSQL (compose, project ${target.project}, ${displayPath(file)}) on ${HOST}:${port}`, () => composeDown(target));
    } catch (error) {
      unregister();
      await stop().catch(() => undefined);
      throw error;
    }
  },

  async resume(state, runtime) {
    if (!state.composeProject) return undefined;
    const target: ComposeTarget = { file: state.composeFile, project: state.composeProject };
    let running: string;
    try {
      running = (await runDocker([...composeArgs(target), 'ps', '--quiet', SERVICE], { timeoutMs: COMMAND_TIMEOUT_MS, cwd: workDir(target) })).trim();
    } catch (error) {
      runtime.logger.warn(
        `Could not check the kept compose project ${target.project} (${shortCause(error)}); if it still exists, remove it with \`docker compose -p ${target.project} down -v\``,
      );
      return undefined;
    }
    if (!running) {
      // Nothing serves any more (the engine restarted, or someone stopped it): remove what is left of the project.
      await composeDown(target).catch(() => undefined);
      return undefined;
    }
    const address = parseDatabaseUrl(state.url, []);
    return databaseHandle(state, `PostgreSQL (compose, kept project ${target.project}) on ${address?.host}:${address?.port}`, () => composeDown(target));
  },
};

/** `docker compose up --wait` for the service; retries on another free port when the one picked was taken meanwhile. */
async function composeUp(target: ComposeTarget, settings: DatabaseSettings, superPassword: string, hide: (text: string) => string): Promise<number> {
  const fixedPort = settings.provider.keepDb && settings.connection.portGiven ? settings.connection.port : undefined;
  for (let attempt = 1; ; attempt += 1) {
    const port = fixedPort ?? (await freePort(HOST));
    const options = { env: composeEnv(settings, port, superPassword), cwd: workDir(target) };
    try {
      await runDocker([...composeArgs(target), 'up', '--detach', '--wait', SERVICE], {
        ...options,
        timeoutMs: UP_TIMEOUT_MS + settings.provider.waitTimeoutMs,
      });
    } catch (error) {
      const output = error instanceof DockerCommandError ? error.output : '';
      const portTaken = /port is already allocated|address already in use/i.test(output);
      if (portTaken && fixedPort === undefined && attempt < PORT_ATTEMPTS) {
        await composeDown(target).catch(() => undefined);
        continue;
      }
      throw await upError(target, settings, port, portTaken, error, hide);
    }
    return publishedPort(target, options);
  }
}

/** The variables the compose file reads. The passwords travel in the environment, never on a command line. */
function composeEnv(settings: DatabaseSettings, port: number, superPassword: string): Record<string, string> {
  return {
    DB_IMAGE: settings.provider.image,
    DB_PORT: String(port),
    POSTGRES_PASSWORD: superPassword,
    DB_NAME: settings.connection.database,
    DB_USER: settings.connection.user,
    DB_PASSWORD: settings.connection.password,
  };
}

/** The host port `docker compose port` reports, e.g. "127.0.0.1:54321". */
async function publishedPort(target: ComposeTarget, options: { env: Record<string, string>; cwd: string }): Promise<number> {
  const output = await runDocker([...composeArgs(target), 'port', SERVICE, String(CONTAINER_PORT)], { ...options, timeoutMs: COMMAND_TIMEOUT_MS });
  const port = Number(/:(\d+)\s*$/m.exec(output)?.[1]);
  if (!Number.isInteger(port) || port <= 0) {
    throw new TaskError(`docker compose did not report a published port for ${SERVICE}:${CONTAINER_PORT} (it printed "${output.trim()}")`, {
      hint: `the "${SERVICE}" service in ${displayPath(target.file!)} must publish container port ${CONTAINER_PORT}`,
    });
  }
  return port;
}

async function upError(
  target: ComposeTarget,
  settings: DatabaseSettings,
  port: number,
  portTaken: boolean,
  error: unknown,
  hide: (text: string) => string,
): Promise<TaskError> {
  const base = `docker compose could not start the "${SERVICE}" service of ${displayPath(target.file!)} (image ${settings.provider.image})`;
  if (portTaken) {
    return new TaskError(`${base}: port ${port} on ${HOST} is already in use`, {
      hint: 'set DB_PORT to a free port, or stop what is listening there (`gulp db:stop` if it is a kept database)',
      cause: error,
    });
  }
  const output = error instanceof DockerCommandError && error.output ? error.output : messageOf(error);
  const detail = hide(lastLines(output, 3));
  if (/cannot connect to the docker daemon|is the docker daemon running|error during connect/i.test(output)) {
    return new TaskError(`${base}: ${detail}`, { hint: 'is Docker running? `docker info` must answer; or use DB_PROVIDER=embedded', cause: error });
  }
  const logs = await runDocker([...composeArgs(target), 'logs', '--no-color', '--tail', '10', SERVICE], { timeoutMs: 10_000, cwd: workDir(target) })
    .then((text) =>
      text
        .split('\n')
        .map((line) => line.trimEnd())
        .filter(Boolean)
        .slice(-10),
    )
    .catch(() => [] as string[]);
  const logTail = logs.length > 0 ? `; its log ends:\n    ${hide(logs.join('\n    '))}` : '';
  return new TaskError(`${base}: ${detail}${logTail}`, {
    hint: `check the file with \`docker compose -f ${displayPath(target.file!)} config\` and DB_IMAGE, raise DB_WAIT_TIMEOUT on a slow machine, or use DB_PROVIDER=embedded`,
    cause: error,
  });
}

/** Stops and deletes the project's containers, its network and the data volume. A no-op once it is gone. */
async function composeDown(target: ComposeTarget): Promise<void> {
  await runDocker([...composeArgs(target), 'down', '--volumes', '--remove-orphans', '--timeout', '0'], {
    timeoutMs: COMMAND_TIMEOUT_MS,
    cwd: workDir(target),
  });
}

/**
 * `compose [-f FILE] -p PROJECT`. Without the file (a kept project whose file moved), compose finds the project's
 * containers by their labels.
 */
function composeArgs(target: ComposeTarget): string[] {
  const fileArgs = target.file && existsSync(target.file) ? ['-f', target.file] : [];
  return ['compose', ...fileArgs, '-p', target.project];
}

/** The compose file's folder; without a file, a folder with no compose file in it for compose to pick up instead. */
function workDir(target: ComposeTarget): string {
  return target.file && existsSync(target.file) ? path.dirname(target.file) : os.tmpdir();
}

/** A kept database gets a name that is stable per project folder, so it can be found by hand: `docker compose ls`. */
function keptProjectName(projectDir: string): string {
  return `pgmt-kept-${createHash('sha256').update(path.resolve(projectDir)).digest('hex').slice(0, 8)}`;
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

/**
 * The compose file to start: COMPOSE_FILE (or the project's option) as given; the project's docker-compose.yml when it
 * has one; else the one this package ships (a `postgres` service, the init scripts mounted from the package).
 */
export function composeFileOf(provider: Pick<ProviderSettings, 'composeFile' | 'projectDir'>): string {
  const projectDefault = path.resolve(provider.projectDir, DEFAULTS.composeFile);
  if (provider.composeFile !== projectDefault || existsSync(projectDefault)) return provider.composeFile;
  return path.join(packageRoot(), DEFAULTS.composeFile);
}
