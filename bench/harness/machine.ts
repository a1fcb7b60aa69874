// What the results were measured on: results.json's `machine` and the line under the table.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PgTools } from './postgres';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  totalMemoryMiB: number;
  os: string;
  kernel: string;
  arch: string;
  node: string;
  /** The server binaries and psql the cases used; null when PostgreSQL was not found. */
  postgres: { version: string; source: string; binDir: string; psql: string | null; psqlVersion: string | null } | null;
  /** HEAD of the repository (read from .git, no git command), null when not a git checkout. */
  gitCommit: string | null;
  /** os.loadavg() (1, 5, 15 min) when the run started: above the core count, other work competed with the bench. */
  loadAverageAtStart: number[];
}

export function machineInfo(repoRoot: string, postgres: PgTools | undefined, loadAverageAtStart: number[]): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    os: osName(),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    postgres: postgres
      ? {
          version: postgres.server.version,
          source: postgres.server.source,
          binDir: postgres.server.binDir,
          psql: postgres.psql?.path ?? null,
          psqlVersion: postgres.psql?.version ?? null,
        }
      : null,
    gitCommit: gitCommit(repoRoot),
    loadAverageAtStart: loadAverageAtStart.map((load) => Math.round(load * 100) / 100),
  };
}

/** One line for the README: "Intel Xeon, 2 cores, 23.5 GiB RAM, Debian 12, Linux 6.1 x64, Node v20.20.2, …". */
export function describeMachine(machine: MachineInfo): string {
  const parts = [
    machine.cpuModel,
    `${machine.cores} cores`,
    `${(machine.totalMemoryMiB / 1024).toFixed(1)} GiB RAM`,
    machine.os,
    `${machine.kernel} ${machine.arch}`,
    `Node ${machine.node}`,
    machine.postgres
      ? `PostgreSQL ${machine.postgres.version} (${machine.postgres.source}, ${machine.postgres.binDir})` +
        (machine.postgres.psql ? `, psql ${machine.postgres.psqlVersion} (${machine.postgres.psql})` : ', no psql')
      : 'no PostgreSQL binaries',
  ];
  if (machine.gitCommit) parts.push(`commit ${machine.gitCommit.slice(0, 12)}`);
  parts.push(`load average ${machine.loadAverageAtStart.join(' / ')} at the start`);
  return parts.join(', ');
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1];
    if (pretty) return pretty;
  } catch {
    // Not Linux, or no os-release.
  }
  return `${os.type()} ${os.release()}`;
}

function gitCommit(repoRoot: string): string | null {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  // A worktree or submodule has a .git file naming its git folder; refs may sit in the common folder or packed-refs.
  const dotGit = path.join(repoRoot, '.git');
  const pointer = /^gitdir: (.+)$/.exec(read(dotGit) ?? '')?.[1];
  const gitDir = pointer ? path.resolve(repoRoot, pointer) : dotGit;
  const commonDir = path.resolve(gitDir, read(path.join(gitDir, 'commondir')) ?? '.');
  const head = read(path.join(gitDir, 'HEAD'));
  if (!head) return null;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (!ref) return head;
  const loose = read(path.join(gitDir, ref)) ?? read(path.join(commonDir, ref));
  if (loose) return loose;
  const packed = (read(path.join(commonDir, 'packed-refs')) ?? '').split('\n').find((line) => line.endsWith(` ${ref}`));
  return packed?.split(' ')[0] ?? null;
}
