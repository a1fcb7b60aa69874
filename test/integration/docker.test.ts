import path from 'node:path';
import { expect } from 'chai';
import { Cleanups } from '../../tasks/util/cleanups';
import { resolveSettings, type Settings } from '../../tasks/settings/settings';
import { TaskError } from '../../tasks/util/errors';
import type { KeptDatabaseState } from '../../tasks/settings/kept-state';
import type { Logger } from '../../tasks/util/logger';
import { withClient } from '../../tasks/db/pg-client';
import { composeProvider } from '../../tasks/providers/compose';
import { detectContainerRuntime, dockerComposeAvailable } from '../../tasks/providers/container-runtime';
import { dockerProvider } from '../../tasks/providers/docker';
import type { Provider, ProviderRuntime, StartedDatabase } from '../../tasks/providers/types';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function projectConfig(): Settings {
  return resolveSettings({ env: {}, argv: [], cwd: REPO_ROOT, startsDatabase: true });
}

function recordingRuntime(): ProviderRuntime & { lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    debug: (message) => lines.push(`debug: ${message}`),
    info: (message) => lines.push(`info: ${message}`),
    warn: (message) => lines.push(`warn: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
  };
  return { logger, cleanups: new Cleanups(), secrets: new Set(), lines };
}

/** Marks the hook's tests pending, saying why in one line. */
function skipWith(context: Mocha.Context, reason: string): never {
  console.log(`      skipped: ${reason}`);
  context.skip();
}

function keptState(fields: Partial<KeptDatabaseState> & Pick<KeptDatabaseState, 'provider'>): KeptDatabaseState {
  return {
    url: 'postgresql://contentuser:secret@127.0.0.1:55432/contenthub',
    superuserUrl: 'postgresql://postgres:secret@127.0.0.1:55432/postgres',
    startedAt: '2025-01-01T00:00:00.000Z',
    ...fields,
  };
}

async function currentUser(url: string): Promise<string> {
  return withClient(url, async (client) => (await client.query<{ current_user: string }>('SELECT current_user')).rows[0]!.current_user);
}

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  expect.fail('expected a rejection');
}

// Runs on machines without a Docker engine (like CI here): the providers must fail fast and say what to do.
describe('docker providers without an engine', function () {
  this.timeout(10_000);

  it('detectContainerRuntime() answers "unavailable" with the reason within 3 s', async function () {
    const startedAt = Date.now();
    const result = await detectContainerRuntime();
    const elapsedMs = Date.now() - startedAt;
    if (result.available) skipWith(this, `a container runtime answers here (${result.description})`);
    expect(elapsedMs).to.be.below(3_000);
    expect(result.reason).to.match(/^no container runtime answers \(.+\)$/);
  });

  it('dockerProvider.start() rejects with a TaskError naming the image and suggesting DB_PROVIDER=embedded', async function () {
    const runtime = await detectContainerRuntime();
    if (runtime.available) skipWith(this, `a container runtime answers here (${runtime.description})`);
    const config = projectConfig();
    const providerRuntime = recordingRuntime();

    const error = await expectRejection(dockerProvider.start(config, providerRuntime));

    expect(error).to.be.instanceOf(TaskError);
    const { message, hint } = error as TaskError;
    expect(message).to.equal(
      `could not start a PostgreSQL container from image ${config.provider.image}: no container runtime answers (Could not find a working container runtime strategy)\n` +
        '  hint: is Docker running? `docker info` must answer; or use DB_PROVIDER=embedded to run PostgreSQL from local binaries',
    );
    expect(hint).to.include('DB_PROVIDER=embedded');
    expect(providerRuntime.cleanups.size, 'nothing left registered').to.equal(0);
    expect(providerRuntime.secrets.size, 'the superuser password is known as a secret').to.equal(1);
  });

  it('composeProvider.start() rejects with a TaskError suggesting DB_PROVIDER=embedded', async function () {
    const compose = await dockerComposeAvailable();
    if (compose.available) skipWith(this, `docker compose works here (${compose.description})`);
    const providerRuntime = recordingRuntime();

    const error = await expectRejection(composeProvider.start(projectConfig(), providerRuntime));

    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message).to.equal(
      `cannot start the database with docker compose: ${compose.reason}\n` +
        '  hint: start Docker with its compose plugin (`docker info` and `docker compose version` must answer), or use DB_PROVIDER=embedded',
    );
    expect(providerRuntime.cleanups.size).to.equal(0);
  });

  it('dockerProvider.resume() cannot check a kept container: says how to remove it and reports nothing to resume', async function () {
    const runtime = await detectContainerRuntime();
    if (runtime.available) skipWith(this, `a container runtime answers here (${runtime.description})`);
    const providerRuntime = recordingRuntime();

    const resumed = await dockerProvider.resume!(keptState({ provider: 'docker', containerId: 'c0ffee0123456789abcdef' }), providerRuntime);

    expect(resumed).to.equal(undefined);
    expect(providerRuntime.lines).to.deep.equal([
      `warn: Could not check the kept docker container c0ffee012345: ${runtime.reason}; if it still exists, remove it with \`docker rm -f c0ffee012345\``,
    ]);
  });

  it('composeProvider.resume() cannot check a kept project: says how to remove it and reports nothing to resume', async function () {
    const compose = await dockerComposeAvailable();
    if (compose.available) skipWith(this, `docker compose works here (${compose.description})`);
    const providerRuntime = recordingRuntime();

    const resumed = await composeProvider.resume!(keptState({ provider: 'compose', composeProject: 'pgmt-kept-0badc0de' }), providerRuntime);

    expect(resumed).to.equal(undefined);
    expect(providerRuntime.lines).to.have.length(1);
    expect(providerRuntime.lines[0]).to.match(
      /^warn: Could not check the kept compose project pgmt-kept-0badc0de \(.+\); if it still exists, remove it with `docker compose -p pgmt-kept-0badc0de down -v`$/,
    );
  });

  it('composeProvider.start() names a missing compose file', async function () {
    const settings = projectConfig();
    const config = { ...settings, provider: { ...settings.provider, composeFile: path.join(REPO_ROOT, 'no-such-compose.yml') } };

    const error = await expectRejection(composeProvider.start(config, recordingRuntime()));

    expect((error as TaskError).message).to.equal(
      'compose file no-such-compose.yml not found\n' +
        '  hint: set COMPOSE_FILE to a compose file with a "postgres" service, or use DB_PROVIDER=docker or DB_PROVIDER=embedded',
    );
  });
});

/** Starts the provider, checks the application role, stops it twice, and checks the database is gone. */
async function exercise(provider: Provider): Promise<void> {
  const config = projectConfig();
  const runtime = recordingRuntime();
  let database: StartedDatabase | undefined;
  try {
    database = await provider.start(config, runtime);
    expect(runtime.cleanups.size, 'the handle owns the cleanup now').to.equal(0);
    expect(database.provider).to.equal(provider.name);
    // The application role the init scripts create: 'contentuser' unless a .env says otherwise.
    expect(await currentUser(database.url)).to.equal(config.connection.user);
    expect(database.keptState?.provider).to.equal(provider.name);
    const resumed = await provider.resume!(database.keptState!, runtime);
    expect(resumed?.url, 'a running database can be resumed').to.equal(database.url);
  } finally {
    await database?.stop();
  }
  await database.stop();
  expect(await provider.resume!(database.keptState!, runtime), 'nothing to resume once stopped').to.equal(undefined);
  const error = await expectRejection(currentUser(database.url));
  expect(error).to.be.instanceOf(Error);
}

describe('docker providers', function () {
  this.timeout(180_000);

  before(async function () {
    const runtime = await detectContainerRuntime();
    if (!runtime.available) skipWith(this, runtime.reason);
  });

  it('docker: starts a container whose application role can connect, and stops it (twice)', async function () {
    await exercise(dockerProvider);
  });
});

// A sibling, not nested: compose needs the docker CLI and an engine, not a runtime testcontainers recognises.
describe('compose provider', function () {
  this.timeout(180_000);

  before(async function () {
    const compose = await dockerComposeAvailable();
    if (!compose.available) skipWith(this, compose.reason);
  });

  it('compose: starts the postgres service whose application role can connect, and stops it (twice)', async function () {
    await exercise(composeProvider);
  });
});
