import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildUrl, type ConnectionParts } from '../settings/settings';
import { classifyConnectionError } from '../db/connection-errors';
import { TaskError, messageOf } from '../util/errors';
import { withClient } from '../db/pg-client';
import { poll } from '../util/poll';

/** Whether something can run containers here: what answered, or why nothing did. */
export type ContainerAvailability = { available: true; description: string } | { available: false; reason: string };

/** How long a check may take before the runtime counts as absent: a missing engine fails in milliseconds. */
export const DETECT_TIMEOUT_MS = 2_000;

let runtimeCheck: Promise<ContainerAvailability> | undefined;
let composeCheck: Promise<ContainerAvailability> | undefined;

/**
 * Asks testcontainers for a container runtime (Docker, Podman, … as it finds them). Checked once per process;
 * never throws and answers within {@link DETECT_TIMEOUT_MS}.
 * @example const runtime = await detectContainerRuntime(); if (!runtime.available) logger.info(runtime.reason);
 */
export async function detectContainerRuntime(): Promise<ContainerAvailability> {
  runtimeCheck ??= withTimeout(probeContainerRuntime(), DETECT_TIMEOUT_MS, () => ({
    available: false,
    reason: `no container runtime answers (no answer within ${DETECT_TIMEOUT_MS / 1000} s)`,
  }));
  return runtimeCheck;
}

/**
 * Where testcontainers looks for a runtime (DOCKER_HOST, its properties file, a Docker context, the usual sockets):
 * when none of them exists, nothing can answer, and importing testcontainers (~170 ms) to be told so is skipped.
 */
export function runtimeEndpointsAbsent(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): boolean {
  if (env.DOCKER_HOST || env.TESTCONTAINERS_HOST_OVERRIDE || process.platform === 'win32') return false;
  const runtimeDir = env.XDG_RUNTIME_DIR;
  const uid = process.getuid?.();
  const candidates = [
    path.join(home, '.testcontainers.properties'),
    path.join(home, '.docker', 'settings.provider.json'),
    '/var/run/docker.sock',
    '/run/docker.sock',
    path.join(home, '.docker', 'run', 'docker.sock'),
    path.join(home, '.docker', 'desktop', 'docker.sock'),
    runtimeDir && path.join(runtimeDir, 'docker.sock'),
    runtimeDir && path.join(runtimeDir, 'podman', 'podman.sock'),
    uid !== undefined && `/run/user/${uid}/docker.sock`,
  ];
  return candidates.every((candidate) => !candidate || !existsSync(candidate));
}

/** The npm packages the docker provider needs: optional peer dependencies of pg-migrate-tasks. */
export const TESTCONTAINERS_INSTALL = 'npm install --save-dev testcontainers@11.14.0 @testcontainers/postgresql@11.14.0';

/** Whether `error` says that `specifier` (a package) is not installed. */
function isMissing(error: unknown, specifier: string): boolean {
  const { code, message = '' } = (error ?? {}) as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(specifier);
}

/** The TaskError for the docker provider without its optional packages: what to install. */
export function testcontainersMissing(cause: unknown): TaskError {
  return new TaskError('the docker provider needs the testcontainers packages, and they are not installed in this project', {
    hint: `${TESTCONTAINERS_INSTALL} (11.x: 12 needs Node 22), or use DB_PROVIDER=embedded (local binaries) or DB_PROVIDER=compose`,
    cause,
  });
}

/**
 * testcontainers, loaded when the docker provider is used (it is an optional peer dependency: ~45 MB with native
 * modules a project without Docker does not need). A TaskError naming the install when it is missing.
 */
export async function loadTestcontainers(): Promise<typeof import('testcontainers')> {
  try {
    return await import('testcontainers');
  } catch (error) {
    throw isMissing(error, 'testcontainers') ? testcontainersMissing(error) : error;
  }
}

/** @testcontainers/postgresql, likewise. */
export async function loadPostgresContainerModule(): Promise<typeof import('@testcontainers/postgresql')> {
  try {
    return await import('@testcontainers/postgresql');
  } catch (error) {
    throw isMissing(error, '@testcontainers/postgresql') || isMissing(error, 'testcontainers') ? testcontainersMissing(error) : error;
  }
}

async function probeContainerRuntime(): Promise<ContainerAvailability> {
  if (runtimeEndpointsAbsent()) return { available: false, reason: 'no container runtime answers (no DOCKER_HOST, no Docker socket)' };
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await loadTestcontainers();
  } catch (error) {
    if (!(error instanceof TaskError)) throw error;
    return { available: false, reason: `a Docker endpoint exists, but testcontainers is not installed (${TESTCONTAINERS_INSTALL} to use it)` };
  }
  try {
    const { getContainerRuntimeClient } = testcontainers;
    const { containerRuntime } = (await getContainerRuntimeClient()).info;
    return {
      available: true,
      description: `${containerRuntime.operatingSystem} (server ${containerRuntime.serverVersion}, ${containerRuntime.architecture}) at ${containerRuntime.host}`,
    };
  } catch (error) {
    return { available: false, reason: `no container runtime answers (${shortCause(error)})` };
  }
}

/**
 * Checks that `docker compose` is installed and a Docker engine answers. Checked once per process; never throws and
 * answers within {@link DETECT_TIMEOUT_MS}.
 */
export async function dockerComposeAvailable(): Promise<ContainerAvailability> {
  composeCheck ??= probeDockerCompose();
  return composeCheck;
}

async function probeDockerCompose(): Promise<ContainerAvailability> {
  const options = { timeoutMs: DETECT_TIMEOUT_MS };
  const [compose, engine] = await Promise.allSettled([
    // Not `--short`: without the compose plugin the docker CLI rejects that flag before saying compose is missing.
    runDocker(['compose', 'version'], options),
    runDocker(['info', '--format', '{{.ServerVersion}}'], options),
  ]);
  if (compose.status === 'rejected') return { available: false, reason: `docker compose is not available (${shortCause(compose.reason)})` };
  if (engine.status === 'rejected') return { available: false, reason: `no Docker engine answers (${shortCause(engine.reason)})` };
  if (!engine.value.trim()) return { available: false, reason: 'no Docker engine answers (`docker info` printed no server version)' };
  const composeVersion = /v?(\d+\.\d+[^\s,]*)/.exec(compose.value)?.[1] ?? compose.value.trim();
  return { available: true, description: `Docker Compose ${composeVersion} on Docker Engine ${engine.value.trim()}` };
}

/** A failed `docker …` command; `output` is what it printed (stderr, else stdout). */
export class DockerCommandError extends Error {
  readonly output: string;

  constructor(message: string, output: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockerCommandError';
    this.output = output;
  }
}

export interface RunDockerOptions {
  /** Kills the command after this long. */
  timeoutMs: number;
  /** Added to (and overriding) this process's environment. Secrets go here, never into `args`. */
  env?: Record<string, string>;
  /** Default: this process's working directory. */
  cwd?: string;
}

/**
 * Runs the docker CLI without a shell and resolves with its stdout. Arguments appear in error messages, so they must
 * never hold a secret: pass passwords through `env`.
 * @example await runDocker(['compose', '-p', project, 'down'], { timeoutMs: 60_000 })
 */
export function runDocker(args: readonly string[], { timeoutMs, env, cwd }: RunDockerOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { cwd, env: env ? { ...process.env, ...env } : process.env, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, windowsHide: true };
    execFile('docker', args, options, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const command = `docker ${args.join(' ')}`;
      const output = stderr.trim() || stdout.trim();
      if (error.code === 'ENOENT') reject(new DockerCommandError('the docker command was not found (is Docker installed and on PATH?)', '', { cause: error }));
      else if (error.killed) reject(new DockerCommandError(`\`${command}\` did not finish within ${timeoutMs / 1000} s`, output, { cause: error }));
      else
        reject(
          new DockerCommandError(`\`${command}\` failed (exit ${error.code ?? error.signal}): ${lastLines(output, 3) || 'no output'}`, output, {
            cause: error,
          }),
        );
    });
  });
}

/**
 * Waits until the server in a freshly started container accepts the superuser: the container may report healthy a
 * moment before its published port forwards connections.
 */
export async function waitForServer(superuser: ConnectionParts, timeoutMs: number, what: string): Promise<void> {
  const url = buildUrl({ ...superuser, database: 'postgres' });
  const ready = await poll(
    () => withClient(url, async () => undefined, 2_000),
    { timeoutMs, intervalMs: 50, maxIntervalMs: 500 },
    (error) => !classifyConnectionError(error, superuser).transient,
  );
  if (ready.ok) return;
  const failure = classifyConnectionError(ready.lastError, superuser);
  throw new TaskError(`${what} did not accept connections: ${failure.message}`, {
    hint: failure.transient ? 'raise DB_WAIT_TIMEOUT (or --timeout) on a slow machine' : failure.hint,
    cause: ready.lastError,
  });
}

/** One line of an error for a parenthesis: a docker command's own first output line, else the message's first line. */
export function shortCause(error: unknown, maxLength = 160): string {
  const text = error instanceof DockerCommandError && error.output ? error.output : messageOf(error);
  const line =
    text
      .split('\n')
      .map((part) => part.trim())
      .find(Boolean) ?? 'unknown error';
  return line.length > maxLength ? `${line.slice(0, maxLength - 1)}…` : line;
}

/** The last `count` non-empty lines of a command's output, joined with " / ". */
export function lastLines(text: string, count: number): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' / ');
}

/** The first 12 characters of a container id, as `docker ps` shows them. */
export function shortContainerId(id: string): string {
  return id.slice(0, 12);
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
