// The results of a run: the document written to bench/results.json (stable keys) and the Markdown table printed.
import type { BenchCase, Goal, Measurement, PeerRow, SideTimings } from './case';
import { describeMachine, type MachineInfo } from './machine';
import { pairwiseRatios, summarize } from './stats';

/** Bumped only when a key changes meaning or disappears. */
export const RESULTS_VERSION = 1;

export type CaseOutcome =
  | { status: 'measured'; benchCase: BenchCase; measurement: Measurement; durationMs: number }
  | { status: 'not available'; benchCase: BenchCase; reason: string; durationMs: number }
  | { status: 'failed'; benchCase: BenchCase; reason: string; durationMs: number };

interface SideResult {
  label: string;
  min: number;
  median: number;
  max: number;
  samples: number[];
  warmUp: number[];
}

/** One case in results.json. Every key is always present (null when it does not apply), in this order. */
export interface CaseResult {
  id: string;
  number: number;
  title: string;
  status: CaseOutcome['status'];
  /** Why the case was not measured, or how the bench failed; null when measured. */
  reason: string | null;
  goal: { kind: Goal['kind']; max: number; unit: 'ms' | 'ratio' };
  candidate: SideResult | null;
  baseline: SideResult | null;
  /** candidate ÷ baseline per pair, and their min/median/max. */
  ratio: { min: number; median: number; max: number; samples: number[] } | null;
  /** The goal's figure: the median ratio for a ratio goal, the candidate median for a ms goal; null when not measured. */
  value: number | null;
  met: boolean | null;
  notes: Record<string, number | string>;
  /** CPU time (user + sys) of each side's measured runs, where the bench could take it from the child process. */
  cpu: { candidate: CpuResult | null; baseline: CpuResult | null };
  /** Peer rows (3a, 3b, …): each its own candidate figure ÷ a peer tool, ratio and goal; [] when the case has none. */
  peers: PeerResult[];
  durationMs: number;
}

/** CPU time (user + sys, ms) of a side's measured runs, in the order taken. */
export interface CpuResult {
  min: number;
  median: number;
  max: number;
  samples: number[];
}

type Ratio = { min: number; median: number; max: number; samples: number[] };

/** One peer row in results.json. Every key is always present (null when it does not apply), in this order. */
export interface PeerResult {
  /** The row's label in the table: the case number and a letter ("3a"). */
  row: string;
  title: string;
  status: 'measured' | 'not available';
  reason: string | null;
  /** null: reported without a goal. */
  goal: { kind: Goal['kind']; max: number; unit: 'ms' | 'ratio' } | null;
  candidate: SideResult | null;
  peer: SideResult | null;
  /** candidate ÷ peer per round, and their min/median/max. */
  ratio: Ratio | null;
  value: number | null;
  met: boolean | null;
  /** CPU time of each side and the median of the per-round CPU ratios (candidate ÷ peer); null where not taken. */
  cpu: { candidate: CpuResult | null; peer: CpuResult | null; ratio: number | null };
}

export interface ResultsDocument {
  version: number;
  date: string;
  command: string;
  units: { time: 'ms'; ratio: 'candidate / baseline' };
  settings: { pairs: number; warmUpRuns: number };
  machine: MachineInfo;
  cases: CaseResult[];
}

const ms1 = (value: number) => Math.round(value * 10) / 10;
const ratio3 = (value: number) => Math.round(value * 1000) / 1000;

function sideResult(timings: SideTimings): SideResult {
  const { min, median, max } = summarize(timings.samples);
  return { label: timings.label, min: ms1(min), median: ms1(median), max: ms1(max), samples: timings.samples.map(ms1), warmUp: timings.warmUp.map(ms1) };
}

function cpuResult(timings: SideTimings | undefined): CpuResult | null {
  if (!timings?.cpu || timings.cpu.length === 0 || timings.cpu.length !== timings.samples.length) return null;
  const { min, median, max } = summarize(timings.cpu);
  return { min: ms1(min), median: ms1(median), max: ms1(max), samples: timings.cpu.map(ms1) };
}

function ratioOf(candidate: readonly number[], baseline: readonly number[]): Ratio {
  const samples = pairwiseRatios(candidate, baseline);
  const { min, median, max } = summarize(samples);
  return { min: ratio3(min), median: ratio3(median), max: ratio3(max), samples: samples.map(ratio3) };
}

const goalResult = (goal: Goal) => ({ kind: goal.kind, max: goal.max, unit: goal.kind === 'ms' ? ('ms' as const) : ('ratio' as const) });

export function peerResult(row: string, peer: PeerRow): PeerResult {
  const base = { row, title: peer.title, status: peer.status };
  const goal = peer.goal ? goalResult(peer.goal) : null;
  if (peer.status !== 'measured') {
    return {
      ...base,
      reason: peer.reason,
      goal,
      candidate: null,
      peer: null,
      ratio: null,
      value: null,
      met: null,
      cpu: { candidate: null, peer: null, ratio: null },
    };
  }
  const ratio = ratioOf(peer.candidate.samples, peer.peer.samples);
  const candidate = sideResult(peer.candidate);
  const value = !peer.goal ? null : peer.goal.kind === 'ratio' ? ratio.median : candidate.median;
  const cpu = { candidate: cpuResult(peer.candidate), peer: cpuResult(peer.peer) };
  const cpuRatio = cpu.candidate && cpu.peer && cpu.peer.samples.every((value) => value > 0) ? ratioOf(cpu.candidate.samples, cpu.peer.samples).median : null;
  return {
    ...base,
    reason: null,
    goal,
    candidate,
    peer: sideResult(peer.peer),
    ratio,
    value,
    met: value === null || !peer.goal ? null : value <= peer.goal.max,
    cpu: { ...cpu, ratio: cpuRatio },
  };
}

/** "3a", "3b", …: the case number and the peer's place. */
const peerRowLabel = (number: number, index: number) => `${number}${String.fromCodePoint(0x61 + index)}`;

export function caseResult(outcome: CaseOutcome): CaseResult {
  const { benchCase } = outcome;
  const goal = goalResult(benchCase.goal);
  const base = { id: benchCase.id, number: benchCase.number, title: benchCase.title, status: outcome.status };
  if (outcome.status !== 'measured') {
    return {
      ...base,
      reason: outcome.reason,
      goal,
      candidate: null,
      baseline: null,
      ratio: null,
      value: null,
      met: null,
      notes: {},
      cpu: { candidate: null, baseline: null },
      peers: [],
      durationMs: Math.round(outcome.durationMs),
    };
  }
  const { candidate, baseline, notes = {}, peers = [] } = outcome.measurement;
  const ratio: CaseResult['ratio'] = baseline ? ratioOf(candidate.samples, baseline.samples) : null;
  const candidateResult = sideResult(candidate);
  const value = benchCase.goal.kind === 'ratio' ? (ratio?.median ?? null) : candidateResult.median;
  return {
    ...base,
    reason: null,
    goal,
    candidate: candidateResult,
    baseline: baseline ? sideResult(baseline) : null,
    ratio,
    value,
    met: value === null ? null : value <= benchCase.goal.max,
    notes,
    cpu: { candidate: cpuResult(candidate), baseline: cpuResult(baseline) },
    peers: peers.map((peer, index) => peerResult(peerRowLabel(benchCase.number, index), peer)),
    durationMs: Math.round(outcome.durationMs),
  };
}

const formatMs = (value: number) => `${Math.round(value).toLocaleString('en')} ms`;
const formatSide = (side: SideResult | null) =>
  side ? `${formatMs(side.median)} (${Math.round(side.min).toLocaleString('en')}–${Math.round(side.max).toLocaleString('en')})` : '—';
const formatGoal = ({ kind, max }: CaseResult['goal']) => (kind === 'ratio' ? `≤ ${max}` : `≤ ${formatMs(max)}`);

/** The Markdown table, the legend of what each side ran, the notes, and the machine line. */
export function formatReport(document: ResultsDocument): string {
  const rows = [
    '| # | Case | Candidate median (min–max) | Baseline median (min–max) | Ratio (median of pairs) | Goal | OK |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const legend: string[] = [];
  for (const result of document.cases) {
    if (result.status !== 'measured') {
      rows.push(`| ${result.number} | ${result.title} | ${result.status}: ${result.reason?.split('\n')[0]} | — | — | ${formatGoal(result.goal)} | — |`);
      continue;
    }
    const ratio = result.ratio ? result.ratio.median.toFixed(2) : '—';
    const ok = result.met ? '✓' : '✗';
    rows.push(
      `| ${result.number} | ${result.title} | ${formatSide(result.candidate)} | ${formatSide(result.baseline)} | ${ratio} | ${formatGoal(result.goal)} | ${ok} |`,
    );
    const sides = [`candidate: ${result.candidate!.label}`];
    if (result.baseline) sides.push(`baseline: ${result.baseline.label}`);
    legend.push(`${result.number}. ${sides.join('; ')}.`);
    const notes = Object.entries(result.notes).map(([key, value]) => `${key} ${typeof value === 'number' ? formatMs(value) : value}`);
    const cpu = [
      ...(result.cpu.candidate ? [`candidate ${formatMs(result.cpu.candidate.median)}`] : []),
      ...(result.cpu.baseline ? [`baseline ${formatMs(result.cpu.baseline.median)}`] : []),
    ];
    if (cpu.length > 0) notes.push(`CPU time (user + sys, median): ${cpu.join(', ')}`);
    if (notes.length > 0) legend.push(`   ${notes.join('; ')}.`);
    for (const peer of result.peers) {
      if (peer.status !== 'measured') {
        rows.push(`| ${peer.row} | ${peer.title} | ${peer.status}: ${peer.reason?.split('\n')[0]} | — | — | ${peer.goal ? formatGoal(peer.goal) : '—'} | — |`);
        continue;
      }
      const peerOk = peer.met === null ? '—' : peer.met ? '✓' : '✗';
      rows.push(
        `| ${peer.row} | ${peer.title} | ${formatSide(peer.candidate)} | ${formatSide(peer.peer)} | ${peer.ratio!.median.toFixed(2)} | ${peer.goal ? formatGoal(peer.goal) : '—'} | ${peerOk} |`,
      );
      legend.push(`${peer.row}. candidate: ${peer.candidate!.label}; peer: ${peer.peer!.label}.`);
      if (peer.cpu.candidate || peer.cpu.peer) {
        const parts = [
          `candidate ${peer.cpu.candidate ? formatMs(peer.cpu.candidate.median) : '—'}`,
          `peer ${peer.cpu.peer ? formatMs(peer.cpu.peer.median) : '—'}`,
        ];
        if (peer.cpu.ratio !== null) parts.push(`ratio ${peer.cpu.ratio.toFixed(2)} (median of rounds)`);
        legend.push(`   CPU time (user + sys, median): ${parts.join(', ')}.`);
      }
    }
  }
  const peerRows = document.cases.some((result) => result.peers.length > 0);
  const failures = document.cases
    .filter((result) => result.status === 'failed')
    .map((result) => `Case ${result.number} (${result.id}) failed: ${result.reason}`);
  return [
    ...rows,
    '',
    ...legend,
    '',
    `Each ratio case: ${document.settings.pairs} pairs (candidate and baseline back to back${peerRows ? '; in a case with peer rows, rounds of every side' : ''}) after ${document.settings.warmUpRuns} warm-up run of each side. ${document.date}.`,
    `Machine: ${describeMachine(document.machine)}.`,
    ...(failures.length > 0 ? ['', ...failures] : []),
  ].join('\n');
}
