import { spawn } from 'node:child_process';
import { asIdentity, type OsIdentity } from './os-user';

/** A command started by runCommand: its completion, and a way to end it early. */
export interface RunningCommand {
  /** Resolves when it exits with 0; rejects with its last output lines otherwise. */
  done: Promise<void>;
  /** Ends it (SIGTERM) and resolves once it has exited. */
  kill(): Promise<void>;
  /** Its process id (undefined when it could not be spawned). */
  pid?: number;
}

/**
 * Runs a command (as `identity`, when given) in its own process group, so a Ctrl-C in the terminal reaches only gulp,
 * whose cleanup then ends it and waits for it before removing the files it writes.
 */
export function runCommand(
  command: string,
  args: string[],
  { identity, cwd, env = process.env }: { identity?: OsIdentity; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): RunningCommand {
  const child = spawn(command, args, { ...(identity ? asIdentity(identity) : {}), cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
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
    pid: child.pid,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // The whole process group: initdb's own children (postgres --single) write into the same folder.
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          child.kill('SIGTERM');
        }
      }
      await exited;
    },
  };
}
