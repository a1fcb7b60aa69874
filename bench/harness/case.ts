// What a bench case is, what it gets from the suite, and the pairing of candidate and baseline runs.
import type { TestServer } from '../../test/support/database';
import type { PgTools } from './postgres';
import { profiling } from './processes';

/** A ratio goal: median of candidate/baseline pairs at most `max`; an absolute one: candidate median at most `max` ms. */
export type Goal = { kind: 'ratio'; max: number } | { kind: 'ms'; max: number };

/** One side of a case: a label for the table and one timed run (setup it needs happens inside, outside its timing). */
export interface Side {
  label: string;
  /** Runs once and returns the duration in ms; throws when the run did not do what it should. */
  run(run: { warmUp: boolean }): Promise<number>;
}

/** The timings of one side: warm-up runs (not counted) and the measured ones, in the order taken. */
export interface SideTimings {
  label: string;
  warmUp: number[];
  samples: number[];
}

/** What a case measured, before statistics. */
export interface Measurement {
  candidate: SideTimings;
  /** Absent when the case has no natural baseline (the ratio column then shows "—"). */
  baseline?: SideTimings;
  /** Extra figures that say where the time goes (ms unless the key says otherwise), shown under the table. */
  notes?: Record<string, number | string>;
}

/** What the suite gives a case. */
export interface BenchRun {
  /** Measured pairs per case (≥ 5 for committed results). */
  pairs: number;
  /** A progress line (stderr). */
  log(message: string): void;
  /** A new empty folder inside the repository (.bench-tmp/…), removed at the end of the run. */
  tempDir(name: string): string;
  /** Registers something to undo at the end of the run (also after a failure or Ctrl-C); returns an unregister. */
  onCleanup(name: string, cleanup: () => Promise<void> | void): () => void;
  /** One embedded PostgreSQL server shared by the cases of this run (started on first use, stopped at the end). */
  server(): Promise<TestServer>;
  /** The PostgreSQL binaries; rejects with NotAvailable when there are none. */
  postgres(): Promise<PgTools>;
  /** The task names `gulp --tasks-simple` lists for this repository's gulpfile. */
  gulpTasks(): Promise<string[]>;
}

export interface BenchCase {
  /** Stable id for --case and results.json. */
  id: string;
  /** The number in the issue (1–6); --case accepts it too. */
  number: number;
  title: string;
  goal: Goal;
  run(bench: BenchRun): Promise<Measurement>;
}

/** Thrown by a case whose feature (a task, PostgreSQL binaries, psql) is missing: the table says "not available". */
export class NotAvailable extends Error {
  override name = 'NotAvailable';
}

/** Throws NotAvailable unless every task in `names` is in the gulpfile. */
export async function requireTasks(bench: BenchRun, names: readonly string[]): Promise<void> {
  const tasks = new Set(await bench.gulpTasks());
  const missing = names.filter((name) => !tasks.has(name));
  if (missing.length > 0) throw new NotAvailable(`no \`gulp ${missing.join('`, `gulp ')}\` task`);
}

/**
 * Runs one warm-up of each side, then `pairs` pairs, candidate and baseline back to back, alternating which goes first
 * (candidate first in odd pairs) so neither always runs in the other's wake.
 */
export async function measurePairs(bench: BenchRun, candidate: Side, baseline: Side): Promise<Measurement> {
  const result: Measurement = {
    candidate: { label: candidate.label, warmUp: [], samples: [] },
    baseline: { label: baseline.label, warmUp: [], samples: [] },
  };
  const timeOf = async (side: Side, into: SideTimings, list: 'warmUp' | 'samples') => {
    profiling.active = side === candidate && list === 'samples';
    try {
      const ms = await side.run({ warmUp: list === 'warmUp' });
      into[list].push(ms);
      return ms;
    } finally {
      profiling.active = false;
    }
  };
  const c = await timeOf(candidate, result.candidate, 'warmUp');
  const b = await timeOf(baseline, result.baseline!, 'warmUp');
  bench.log(`warm-up: candidate ${formatMs(c)}, baseline ${formatMs(b)}`);
  for (let pair = 0; pair < bench.pairs; pair += 1) {
    const order: [Side, SideTimings][] = [
      [candidate, result.candidate],
      [baseline, result.baseline!],
    ];
    if (pair % 2 === 1) order.reverse();
    for (const [side, timings] of order) await timeOf(side, timings, 'samples');
    bench.log(
      `pair ${pair + 1}/${bench.pairs}: candidate ${formatMs(result.candidate.samples.at(-1)!)}, baseline ${formatMs(result.baseline!.samples.at(-1)!)}`,
    );
  }
  return result;
}

export function formatMs(ms: number): string {
  return `${Math.round(ms).toLocaleString('en')} ms`;
}
