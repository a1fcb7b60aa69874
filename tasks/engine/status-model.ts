import type { LedgerEntry } from '../db/ledger';
/** The states of `migrate:status`, in the order the summary line lists them. */
export const MIGRATION_STATES = ['applied', 'pending', 'out of order', 'missing', 'edited', 'no checksum'] as const;
export type MigrationState = (typeof MIGRATION_STATES)[number];

/**
 * Exit status bits of `migrate:status` (a bitmask: 6 = both). Bit 1 stays free: gulp exits 1 when the task fails
 * (no database, bad settings), so CI can tell "could not check" from "pending".
 */
export const EXIT_PENDING = 2;
/** Missing, edited or out-of-order migrations, or a file in the folder that stops node-pg-migrate. */
export const EXIT_DRIFT = 4;

/** A migration file, in node-pg-migrate's order, with the checksum of its content now. */
export interface FileEntry {
  name: string;
  file: string;
  current: string;
}

/** A row of node-pg-migrate's ledger, in run order, with the checksum recorded for this application (if any). */
export type { LedgerEntry } from '../db/ledger';

export interface MigrationStatus {
  name: string;
  /** The file name, or null when it is gone. */
  file: string | null;
  state: MigrationState;
  runOn: string | null;
  checksum: { recorded: string | null; current: string | null };
}

export type StatusSummary = Record<MigrationState, number>;

export interface ClassifyInput {
  files: readonly FileEntry[];
  ledger: readonly LedgerEntry[];
  /** node-pg-migrate's name order (compareMigrationFileNames); may throw for a name without a numeric prefix. */
  compareNames: (a: string, b: string) => number;
}

/**
 * Merges the folder and the ledger into one row per migration, in node-pg-migrate's order (a migration whose file is
 * gone is placed where its name sorts), and gives each its state. Pure: no I/O.
 */
export function classifyMigrations({ files, ledger, compareNames }: ClassifyInput): MigrationStatus[] {
  const applied = new Map(ledger.map((entry) => [entry.name, entry]));
  const onDisk = new Set(files.map((file) => file.name));
  const compare = orderingWithUnprefixedLast(compareNames);
  const gone = ledger.filter((entry) => !onDisk.has(entry.name)).sort((a, b) => compare(a.name, b.name));

  const merged: (FileEntry | LedgerEntry)[] = [];
  let g = 0;
  for (const file of files) {
    while (g < gone.length && compare(gone[g]!.name, file.name) < 0) merged.push(gone[g++]!);
    merged.push(file);
  }
  merged.push(...gone.slice(g));

  let newestApplied = -1;
  merged.forEach((entry, index) => {
    if (applied.has(entry.name)) newestApplied = index;
  });
  return merged.map((entry, index) => {
    const run = applied.get(entry.name);
    const current = 'current' in entry ? entry.current : null;
    const recorded = run?.recorded ?? null;
    return {
      name: entry.name,
      file: 'file' in entry ? entry.file : null,
      state: stateOf({ applied: run !== undefined, onDisk: current !== null, recorded, current, olderThanApplied: index < newestApplied }),
      runOn: run?.runOn ?? null,
      checksum: { recorded, current },
    };
  });
}

/** The state of one migration from what is known about it. */
export function stateOf({
  applied,
  onDisk,
  recorded,
  current,
  olderThanApplied,
}: {
  applied: boolean;
  onDisk: boolean;
  recorded: string | null;
  current: string | null;
  olderThanApplied: boolean;
}): MigrationState {
  if (!applied) return olderThanApplied ? 'out of order' : 'pending';
  if (!onDisk) return 'missing';
  if (recorded === null) return 'no checksum';
  return recorded === current ? 'applied' : 'edited';
}

export function summarize(migrations: readonly MigrationStatus[]): StatusSummary {
  const summary = Object.fromEntries(MIGRATION_STATES.map((state) => [state, 0])) as StatusSummary;
  for (const migration of migrations) summary[migration.state] += 1;
  return summary;
}

/**
 * The exit status bitmask: EXIT_PENDING when something is pending; EXIT_DRIFT when a migration is missing, edited or out of
 * order, or a file in the folder stops node-pg-migrate. "no checksum" is not drift.
 */
export function statusExitCode(summary: StatusSummary, { blockingFiles = 0 }: { blockingFiles?: number } = {}): number {
  const pending = summary.pending > 0 ? EXIT_PENDING : 0;
  const drift = summary.missing + summary.edited + summary['out of order'] + blockingFiles > 0 ? EXIT_DRIFT : 0;
  return pending | drift;
}

/** "5 applied, 1 pending, 1 edited": the non-zero states in MIGRATION_STATES order. */
export function summaryLine(summary: StatusSummary): string {
  const parts = MIGRATION_STATES.filter((state) => summary[state] > 0).map((state) => `${summary[state]} ${state}`);
  return parts.length > 0 ? parts.join(', ') : 'no migrations';
}

/** node-pg-migrate's order, except that names it cannot order (no numeric prefix) go last instead of throwing. */
function orderingWithUnprefixedLast(compareNames: (a: string, b: string) => number): (a: string, b: string) => number {
  return (a, b) => {
    const [prefixedA, prefixedB] = [/^\d/.test(a), /^\d/.test(b)];
    if (prefixedA && prefixedB) return compareNames(a, b);
    if (prefixedA !== prefixedB) return prefixedA ? -1 : 1;
    return a.localeCompare(b);
  };
}
