import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { poll } from '../util/poll';

/**
 * True while a process with this PID runs (signal 0 probes without signalling). A zombie (exited, not yet reaped by
 * its parent, e.g. a kept server whose parent gulp is gone) counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/**
 * True when `pid` is alive and its command line mentions `marker` (our temp dir): a recorded PID may have been
 * reused by an unrelated process since. Where /proc is missing, being alive has to do.
 */
export async function isOurProcess(pid: number, marker: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(marker);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform !== 'linux';
  }
}

/**
 * Stops a server process: `signal` first (PostgreSQL: SIGINT = fast shutdown), SIGKILL if it is still there after
 * `graceMs`. Resolves once the process is gone.
 */
export async function stopProcess(pid: number, { signal = 'SIGINT' as NodeJS.Signals, graceMs = 10_000 } = {}): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  const gone = async () => {
    if (isAlive(pid)) throw new Error('still running');
  };
  send(signal);
  if ((await poll(gone, { timeoutMs: graceMs, intervalMs: 5, maxIntervalMs: 50 })).ok) return;
  send('SIGKILL');
  await poll(gone, { timeoutMs: 5_000, intervalMs: 5, maxIntervalMs: 50 });
}
