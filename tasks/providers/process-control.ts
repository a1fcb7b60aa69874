import { readdirSync, readFileSync } from 'node:fs';
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
 * `graceMs`. Resolves once the process is gone. A stopped process (SIGSTOP, a paused debugger), which would act on
 * nothing until the grace ran out, gets SIGCONT after the signal, and so do its children (a postmaster's backends, each
 * in a session of its own); the children get the SIGKILL too, so that no backend of a server that would not stop is
 * left behind.
 */
export async function stopProcess(pid: number, { signal = 'SIGINT' as NodeJS.Signals, graceMs = 10_000 } = {}): Promise<void> {
  const send = (sig: NodeJS.Signals, target = pid) => {
    try {
      process.kill(target, sig);
    } catch {
      // Already gone.
    }
  };
  const gone = async () => {
    if (isAlive(pid)) throw new Error('still running');
  };
  send(signal);
  // Only a stopped server needs the /proc scan for its children: a running one passes the signal on itself.
  if (isStopped(pid)) for (const each of [pid, ...childrenOf(pid)]) send('SIGCONT', each);
  if ((await poll(gone, { timeoutMs: graceMs, intervalMs: 5, maxIntervalMs: 50 })).ok) return;
  // Read before the parent goes: its children are then handed to init.
  const children = childrenOf(pid);
  send('SIGKILL');
  for (const child of children) send('SIGKILL', child);
  await poll(gone, { timeoutMs: 5_000, intervalMs: 5, maxIntervalMs: 50 });
}

/** Whether `pid` is stopped (SIGSTOP, a debugger): state T or t in /proc/<pid>/stat; elsewhere, no. */
function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** The PIDs whose parent is `pid` (Linux: the fourth field of /proc/<pid>/stat); elsewhere, none. */
function childrenOf(pid: number): number[] {
  return processesWhere((entry) => {
    const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
  });
}

/**
 * The PIDs of the running processes for which `test` (given the PID as /proc names it) is true, this one left out;
 * a process that goes away while it is looked at (`test` throws) is not one. Linux /proc; elsewhere none.
 */
export function processesWhere(test: (entry: string) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  return entries
    .filter((entry) => {
      try {
        return test(entry);
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter((pid) => pid !== process.pid);
}
