// The results of a run: the document written to bench/results.json (stable keys) and the Markdown table printed.
import type { BenchCase, Goal, Measurement, SideTimings } from './case';
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
  durationMs: number;
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

export function caseResult(outcome: CaseOutcome): CaseResult {
  const { benchCase } = outcome;
  const goal = { kind: benchCase.goal.kind, max: benchCase.goal.max, unit: benchCase.goal.kind === 'ms' ? ('ms' as const) : ('ratio' as const) };
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
      durationMs: Math.round(outcome.durationMs),
    };
  }
  const { candidate, baseline, notes = {} } = outcome.measurement;
  let ratio: CaseResult['ratio'] = null;
  if (baseline) {
    const samples = pairwiseRatios(candidate.samples, baseline.samples);
    const { min, median, max } = summarize(samples);
    ratio = { min: ratio3(min), median: ratio3(median), max: ratio3(max), samples: samples.map(ratio3) };
  }
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
    if (notes.length > 0) legend.push(`   ${notes.join('; ')}.`);
  }
  const failures = document.cases
    .filter((result) => result.status === 'failed')
    .map((result) => `Case ${result.number} (${result.id}) failed: ${result.reason}`);
  return [
    ...rows,
    '',
    ...legend,
    '',
    `Each ratio case: ${document.settings.pairs} pairs (candidate and baseline back to back) after ${document.settings.warmUpRuns} warm-up run of each side. ${document.date}.`,
    `Machine: ${describeMachine(document.machine)}.`,
    ...(failures.length > 0 ? ['', ...failures] : []),
  ].join('\n');
}
