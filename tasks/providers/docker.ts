import { randomBytes } from 'node:crypto';
import type { StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import { buildUrl, parseDatabaseUrl, type ConnectionParts } from '../settings/settings';
import { TaskError } from '../util/errors';
import { prepareDatabase, readInitScripts } from '../db/init-scripts';
import type { KeptDatabaseState } from '../settings/kept-state';
import { detectContainerRuntime, loadPostgresContainerModule, loadTestcontainers, shortCause, shortContainerId, waitForServer } from './container-runtime';
import { databaseHandle } from './handle';
import type { DatabaseSettings, Provider } from './types';

const SUPERUSER = 'postgres';
const POSTGRES_PORT = 5432;

/**
 * A PostgreSQL container started through testcontainers from DB_IMAGE (default postgres:15.8-alpine), on a random
 * host port. The init scripts run from here over the network, as for the embedded provider; nothing is mounted.
 */
export const dockerProvider: Provider = {
  name: 'docker',

  async start(settings, runtime) {
    const { logger, cleanups, secrets } = runtime;
    const superPassword = randomBytes(24).toString('base64url');
    secrets.add(superPassword);
    const container = await buildContainer(settings, superPassword);
    let started: StartedPostgreSqlContainer | undefined;
    // Registered before start(): a container that was created but never became ready (or a Ctrl-C mid-start) is
    // removed by id, which matters with KEEP_DB=1, where Ryuk no longer reaps it.
    const stop = async () => {
      if (started) await started.stop();
      else if (container.createdId) await removeContainer(container.createdId);
    };
    const unregister = cleanups.add(`docker container (${settings.provider.image})`, stop);
    try {
      try {
        started = await container.start();
      } catch (error) {
        throw startError(settings, error);
      }
      const containerId = started.getId();
      const host = started.getHost();
      const port = started.getPort();
      const superuser: ConnectionParts = { host, port, database: 'postgres', user: SUPERUSER, password: superPassword };
      await waitForServer(superuser, settings.provider.waitTimeoutMs, `the PostgreSQL container ${shortContainerId(containerId)}`);
      await prepareDatabase(superuser, settings.connection, await readInitScripts(settings.provider.initScriptsDir), logger);
      unregister();
      const state: KeptDatabaseState = {
        provider: 'docker',
        url: buildUrl({ ...settings.connection, host, port }),
        superuserUrl: buildUrl(superuser),
        containerId,
        startedAt: new Date().toISOString(),
      };
      const description = `PostgreSQL (docker, image ${settings.provider.image}, container ${shortContainerId(containerId)}) on ${host}:${port}`;
      return databaseHandle(state, description, stop);
    } catch (error) {
      unregister();
      await stop().catch(() => undefined);
      throw error;
    }
  },

  async resume(state, runtime) {
    if (!state.containerId) return undefined;
    const id = state.containerId;
    const check = await detectContainerRuntime();
    if (!check.available) {
      runtime.logger.warn(
        `Could not check the kept docker container ${shortContainerId(id)}: ${check.reason}; if it still exists, remove it with \`docker rm -f ${shortContainerId(id)}\``,
      );
      return undefined;
    }
    const status = await containerStatus(id);
    if (status === 'gone') return undefined;
    if (status === 'stopped') {
      // It cannot serve anything (the engine restarted, or someone stopped it): tidy it away.
      await removeContainer(id).catch(() => undefined);
      runtime.logger.info(`Removed the kept docker container ${shortContainerId(id)}: it had stopped`);
      return undefined;
    }
    const address = parseDatabaseUrl(state.url, []);
    const description = `PostgreSQL (docker, kept container ${shortContainerId(id)}) on ${address?.host}:${address?.port}`;
    return databaseHandle(state, description, () => removeContainer(id));
  },
};

/** The container, not yet started; it remembers its id as soon as the engine has created it. */
async function buildContainer(settings: DatabaseSettings, superPassword: string) {
  const { PostgreSqlContainer } = await loadPostgresContainerModule();

  class TrackedPostgreSqlContainer extends PostgreSqlContainer {
    createdId: string | undefined;

    protected override async containerCreated(containerId: string): Promise<void> {
      this.createdId = containerId;
    }
  }

  const container = new TrackedPostgreSqlContainer(settings.provider.image)
    .withDatabase('postgres')
    .withUsername(SUPERUSER)
    .withPassword(superPassword)
    .withStartupTimeout(settings.provider.waitTimeoutMs);
  if (settings.provider.keepDb) {
    // testcontainers labels every container with its session id, and its Ryuk reaper container removes everything
    // with that label once this node process exits: a kept database would die with gulp. withAutoCleanup(false)
    // leaves the label off this container (and starts no Ryuk for it); our stop() still removes it, as autoRemove
    // stays on. (TESTCONTAINERS_RYUK_DISABLED=true would do the same for every container, so it is not needed.)
    container.withAutoCleanup(false);
    // Like the embedded provider: a kept database takes DB_PORT when one was given, so its URL can be written down.
    if (settings.connection.portGiven) container.withExposedPorts({ container: POSTGRES_PORT, host: settings.connection.port });
  }
  return container;
}

function startError(settings: DatabaseSettings, error: unknown): TaskError {
  const cause = shortCause(error);
  const base = `could not start a PostgreSQL container from image ${settings.provider.image}`;
  if (/container runtime strategy|cannot connect to the docker daemon|ECONNREFUSED|ENOENT.*docker\.sock/i.test(cause)) {
    return new TaskError(`${base}: no container runtime answers (${cause})`, {
      hint: 'is Docker running? `docker info` must answer; or use DB_PROVIDER=embedded to run PostgreSQL from local binaries',
      cause: error,
    });
  }
  if (/port is already allocated|address already in use/i.test(cause)) {
    return new TaskError(`${base}: port ${settings.connection.port} is already in use; Docker said: ${cause}`, {
      hint: 'set DB_PORT to a free port, or stop what is listening there (`gulp db:stop` if it is a kept database)',
      cause: error,
    });
  }
  return new TaskError(`${base}: ${cause}`, {
    hint: `check DB_IMAGE and that Docker can pull it (\`docker pull ${settings.provider.image}\`), raise DB_WAIT_TIMEOUT on a slow machine, or use DB_PROVIDER=embedded`,
    cause: error,
  });
}

type ContainerStatus = 'running' | 'stopped' | 'gone';

async function containerStatus(id: string): Promise<ContainerStatus> {
  const { getContainerRuntimeClient } = await loadTestcontainers();
  const client = await getContainerRuntimeClient();
  try {
    const info = await client.container.inspect(client.container.getById(id));
    return info.State.Running ? 'running' : 'stopped';
  } catch (error) {
    if (isNotFound(error)) return 'gone';
    throw error;
  }
}

/** `docker rm -f --volumes <id>` through the runtime testcontainers uses; a container that is already gone is fine. */
async function removeContainer(id: string): Promise<void> {
  const { getContainerRuntimeClient } = await loadTestcontainers();
  const client = await getContainerRuntimeClient();
  try {
    await client.container.getById(id).remove({ force: true, v: true });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** dockerode rejects with `statusCode` 404 for an unknown container (and 409 while its removal is under way). */
function isNotFound(error: unknown): boolean {
  const { statusCode } = (error ?? {}) as { statusCode?: number };
  return statusCode === 404 || statusCode === 409;
}
