// What a bench case is, what it gets from the suite, and the pairing of candidate and baseline runs.
import type { TestServer } from '../../test/support/database';
import type { PgTools } from './postgres';
import { profiling } from './processes';

/** A ratio goal: median of candidate/baseline pairs at most `max`; an absolute one: candidate median at most `max` ms. */
export type Goal = { kind: 'ratio'; max: number } | { kind: 'ms'; max: number };

/** What one run took: wall time, and CPU time when known (a ProcessResult fits: see its cpuMs). */
export interface RunTiming {
  ms: number;
  /** User + sys time of the process and its waited-for descendants, ms. */
  cpuMs?: number;
}

/** One side of a case: a label for the table and one timed run (setup it needs happens inside, outside its timing). */
export interface Side {
  label: string;
  /** What the progress lines call it ("candidate", "baseline", "dbmate"); by default its place among the sides. */
  name?: string;
  /** Runs once and returns the duration in ms (or the process's timing); throws when the run did not do what it should. */
  run(run: { warmUp: boolean }): Promise<number | RunTiming>;
}

/** The timings of one side: warm-up runs (not counted) and the measured ones, in the order taken. */
export interface SideTimings {
  label: string;
  warmUp: number[];
  samples: number[];
  /** CPU time (user + sys, ms) of each measured sample; present only when every sample had one. */
  cpu?: number[];
}

/**
 * A row of its own under the case's row ("3a", "3b", …): the candidate, or the part of it that does the same work, ÷ a
 * tool a team would pick instead, measured in the same rounds on the same inputs; its own ratio (median of the
 * pairwise ratios) and goal (none: reported only). "not available" when the tool is not installed here.
 */
export type PeerRow =
  | { title: string; goal?: Goal; status: 'measured'; candidate: SideTimings; peer: SideTimings }
  | { title: string; goal?: Goal; status: 'not available'; reason: string };

/** What a case measured, before statistics. */
export interface Measurement {
  candidate: SideTimings;
  /** Absent when the case has no natural baseline (the ratio column then shows "—"). */
  baseline?: SideTimings;
  /** Extra figures that say where the time goes (ms unless the key says otherwise), shown under the table. */
  notes?: Record<string, number | string>;
  /** Peer rows, in the order printed. */
  peers?: PeerRow[];
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
  const [candidateTimings, baselineTimings] = await measureRounds(bench, [
    { name: 'candidate', ...candidate },
    { name: 'baseline', ...baseline },
  ]);
  return { candidate: candidateTimings!, baseline: baselineTimings! };
}

/**
 * Runs one warm-up of each side, then `bench.pairs` rounds in which every side runs once, back to back; round r starts
 * with side r mod n and goes round in order (two sides: candidate first in odd pairs, as measurePairs always did), so
 * no side always runs in another's wake. The first side is the candidate (the one --profile profiles). Returns the
 * timings of each side in the order given; sample i of every side comes from round i, so pairwise ratios compare runs
 * taken back to back.
 */
export async function measureRounds(bench: BenchRun, sides: readonly Side[]): Promise<SideTimings[]> {
  if (sides.length === 0) throw new Error('Expected at least one side to measure');
  const timings: SideTimings[] = sides.map((side) => ({ label: side.label, warmUp: [], samples: [], cpu: [] }));
  const names = sides.map((side, index) => side.name ?? (index === 0 ? 'candidate' : `side ${index + 1}`));
  const timeOf = async (index: number, list: 'warmUp' | 'samples') => {
    profiling.active = index === 0 && list === 'samples';
    try {
      const result = await sides[index]!.run({ warmUp: list === 'warmUp' });
      const { ms, cpuMs } = typeof result === 'number' ? { ms: result, cpuMs: undefined } : result;
      timings[index]![list].push(ms);
      if (list === 'samples') {
        if (cpuMs === undefined) delete timings[index]!.cpu;
        else timings[index]!.cpu?.push(cpuMs);
      }
      return ms;
    } finally {
      profiling.active = false;
    }
  };
  const line = (list: 'warmUp' | 'samples') => names.map((name, index) => `${name} ${formatMs(timings[index]![list].at(-1)!)}`).join(', ');
  for (let index = 0; index < sides.length; index += 1) await timeOf(index, 'warmUp');
  bench.log(`warm-up: ${line('warmUp')}`);
  for (let round = 0; round < bench.pairs; round += 1) {
    for (let step = 0; step < sides.length; step += 1) await timeOf((round + step) % sides.length, 'samples');
    bench.log(`${sides.length === 2 ? 'pair' : 'round'} ${round + 1}/${bench.pairs}: ${line('samples')}`);
  }
  return timings;
}

/** A peer to measure: its row's title and goal, and the side to run, or why the tool is not available here. */
export type PeerPlan = { title: string; goal?: Goal } & ({ side: Side } | { missing: string });

/**
 * measureRounds of the candidate, the baseline (if any) and every available peer, all in the same rounds; a peer row
 * per plan, in order: `peerCandidate` (default: the candidate's own timings; a case may give the part of the candidate
 * that does the peer's work, one sample per round) ÷ the peer, or "not available".
 */
export async function measureWithPeers(
  bench: BenchRun,
  {
    candidate,
    baseline,
    peers,
    peerCandidate,
  }: { candidate: Side; baseline?: Side; peers: readonly PeerPlan[]; peerCandidate?: (candidate: SideTimings) => SideTimings },
): Promise<Measurement> {
  const available = peers.filter((peer): peer is PeerPlan & { side: Side } => 'side' in peer);
  const sides = [{ name: 'candidate', ...candidate }, ...(baseline ? [{ name: 'baseline', ...baseline }] : []), ...available.map((peer) => peer.side)];
  const timings = await measureRounds(bench, sides);
  const candidateTimings = timings[0]!;
  const peerTimings = timings.slice(baseline ? 2 : 1);
  const against = peerCandidate ? peerCandidate(candidateTimings) : candidateTimings;
  return {
    candidate: candidateTimings,
    ...(baseline ? { baseline: timings[1]! } : {}),
    peers: peers.map((peer): PeerRow => {
      const goal = peer.goal ? { goal: peer.goal } : {};
      if (!('side' in peer)) return { title: peer.title, ...goal, status: 'not available', reason: peer.missing };
      const timings = peerTimings[available.indexOf(peer)]!;
      if (against.samples.length !== timings.samples.length)
        throw new Error(`Expected as many samples of ${timings.label} as of ${against.label}, got ${timings.samples.length} and ${against.samples.length}`);
      return { title: peer.title, ...goal, status: 'measured', candidate: against, peer: timings };
    }),
  };
}

export function formatMs(ms: number): string {
  return `${Math.round(ms).toLocaleString('en')} ms`;
}
