// A command of the project's own (`gulp db:run --run "npm test"`), run through the shell in a process group of its own,
// so that stopping it (Ctrl-C) stops everything it started: npm, the test runner, its workers.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Cleanups } from '../util/cleanups';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { poll } from '../util/poll';

export interface RunShellCommandOptions {
  /** A shell command line: `sh -c COMMAND` (`cmd /d /s /c` on Windows). */
  command: string;
  cwd: string;
  /** Its whole environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where its stop is registered while it runs: a signal's cleanup (or teardown) stops it before the database. */
  cleanups: Cleanups;
  logger?: Logger;
  /** How long it has to end after SIGINT (and what it left running after SIGTERM) before SIGKILL. Default 5 s. */
  graceMs?: number;
}

export interface ShellCommandResult {
  /** Its exit status; 128 + the signal's number when a signal ended it (as a shell reports it). */
  code: number;
  /** The signal that ended it, if one did. */
  signal?: NodeJS.Signals;
  /** True when it was stopped through `cleanups` (Ctrl-C), not by itself. */
  stopped: boolean;
  ms: number;
}

const POSIX = process.platform !== 'win32';

/**
 * Runs `command` through the shell with stdio inherited, in a process group of its own (POSIX), and resolves with its
 * exit status once it ends. While it runs, `cleanups` holds its stop: SIGINT to the whole group, SIGKILL after the
 * grace period. Processes it leaves running in its group when it exits are stopped too (SIGTERM, then SIGKILL).
 * @example const { code } = await runShellCommand({ command: 'npm test', cwd, env, cleanups });
 */
export function runShellCommand({ command, cwd, env, cleanups, logger, graceMs = 5_000 }: RunShellCommandOptions): Promise<ShellCommandResult> {
  const started = performance.now();
  const [file, args] = POSIX ? ['sh', ['-c', command]] : [process.env.ComSpec ?? 'cmd.exe', ['/d', '/s', '/c', `"${command}"`]];
  const child = spawn(file, args, { cwd, env, stdio: 'inherit', detached: POSIX, windowsVerbatimArguments: !POSIX });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopGroup(child.pid, 'SIGINT', graceMs, exited));
  const unregister = cleanups.add('command', stop);

  return exited.then(
    async ({ code, signal }) => {
      const stopped = stopping !== undefined;
      if (stopped) await stopping;
      else if (child.pid !== undefined && groupAlive(child.pid)) {
        logger?.warn(`\`${command}\` ended but left processes running in its process group: stopping them`);
        await stopGroup(child.pid, 'SIGTERM', graceMs, Promise.resolve());
      }
      unregister();
      return {
        code: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
        ...(signal ? { signal } : {}),
        stopped,
        ms: performance.now() - started,
      };
    },
    (error: unknown) => {
      unregister();
      throw new TaskError(`could not start \`${command}\`: ${messageOf(error)}`, { hint: `check that ${file} is on PATH` });
    },
  );
}

/** True while any process of the group `pgid` (the command's shell's PID) is alive. */
function groupAlive(pgid: number): boolean {
  if (!POSIX) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Signals the command's process group, waits for the shell to exit and the group to empty, SIGKILL after `graceMs`. */
async function stopGroup(pid: number | undefined, signal: NodeJS.Signals, graceMs: number, exited: Promise<unknown>): Promise<void> {
  if (pid === undefined) return;
  const send = (sig: NodeJS.Signals) => {
    try {
      if (POSIX) process.kill(-pid, sig);
      else process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  let shellExited = false;
  void exited.then(
    () => (shellExited = true),
    () => (shellExited = true),
  );
  const gone = async () => {
    if (!shellExited || groupAlive(pid)) throw new Error('still running');
  };
  send(signal);
  if ((await poll(gone, { timeoutMs: graceMs, intervalMs: 5, maxIntervalMs: 50 })).ok) return;
  send('SIGKILL');
  await poll(gone, { timeoutMs: 5_000, intervalMs: 5, maxIntervalMs: 50 });
}
