// `npm run bench`: the benchmark suite. Each case runs its candidate and baseline alternately (one warm-up run of each,
// then --pairs pairs), prints a Markdown table (min/median/max of each side, median of the pairwise ratios, the goal)
// and writes bench/results.json. Everything generated lives in .bench-tmp/ and is removed at the end, on failure and on
// Ctrl-C. Exit code 0 even when a goal is missed (this is a report); 1 when the bench itself fails.
//
//   npm run bench                               all cases, 5 pairs
//   npm run bench -- --case 1,lint --pairs 7    some cases (number or id), more pairs
//   npm run bench -- --json                     the results document on stdout instead of the table
//   npm run bench -- --out /tmp/results.json    write the document elsewhere (default bench/results.json)
//   npm run bench -- --case 6 --profile /tmp/p  CPU-profile the measured gulp runs (kept in /tmp/p), print where the
//                                               time goes; timings then include the profiler: results.json is not
//                                               written unless --out is given
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { messageOf } from '../tasks/util/errors';
import { dbRunCase } from './cases/db-run';
import { fleetCase } from './cases/fleet';
import { gulpTasksCase } from './cases/gulp-tasks';
import { lintCase } from './cases/lint';
import { migrate1000Case } from './cases/migrate-1000';
import { migrateLocalCase } from './cases/migrate-local';
import { migrateLocalColdCase } from './cases/migrate-local-cold';
import { statusCase } from './cases/status';
import { watchCase } from './cases/watch';
import { formatMs, NotAvailable, type BenchCase } from './harness/case';
import { machineInfo } from './harness/machine';
import { profiling, REPO_ROOT } from './harness/processes';
import { formatProfile, summarizeProfiles } from './harness/profile';
import { caseResult, formatReport, RESULTS_VERSION, type CaseOutcome, type ResultsDocument } from './harness/report';
import { closeOnSignals, createWorkspace } from './harness/workspace';

export const CASES: readonly BenchCase[] = [
  migrateLocalCase,
  gulpTasksCase,
  migrate1000Case,
  watchCase,
  lintCase,
  statusCase,
  fleetCase,
  dbRunCase,
  migrateLocalColdCase,
];
const DEFAULT_PAIRS = 5;
/** Fewer pairs are fine while developing; results for the README need at least this many. */
const MIN_COMMITTED_PAIRS = 5;

/** A bad flag: printed without a stack. */
class UsageError extends Error {}

interface Options {
  cases: BenchCase[];
  pairs: number;
  json: boolean;
  /** Where results.json goes; undefined: not written (a profiled run). */
  out: string | undefined;
  profile: string | undefined;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        case: { type: 'string' },
        pairs: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        profile: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${messageOf(error)} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(
      'Usage: npm run bench -- [--case <id|number>[,…]] [--pairs N] [--json] [--out FILE] [--profile DIR]\n\nCases:\n' +
        CASES.map((benchCase) => `  ${benchCase.number}  ${benchCase.id.padEnd(14)} ${benchCase.title}\n`).join(''),
    );
    process.exit(0);
  }
  const pairs = values.pairs === undefined ? DEFAULT_PAIRS : Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < 1) throw new UsageError(`Expected \`--pairs\` to be a positive integer, got ${values.pairs}`);
  let cases = [...CASES];
  if (values.case !== undefined) {
    const wanted = values.case
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const unknown = wanted.filter((entry) => !CASES.some((benchCase) => benchCase.id === entry || String(benchCase.number) === entry));
    if (unknown.length > 0)
      throw new UsageError(
        `Unknown case ${unknown.join(', ')}: expected one of ${CASES.map((benchCase) => `${benchCase.number} (${benchCase.id})`).join(', ')}`,
      );
    cases = CASES.filter((benchCase) => wanted.includes(benchCase.id) || wanted.includes(String(benchCase.number)));
  }
  const profile = values.profile === undefined ? undefined : path.resolve(values.profile);
  const out = values.out ?? (profile ? undefined : path.join(REPO_ROOT, 'bench', 'results.json'));
  return { cases, pairs, json: values.json ?? false, out: out === undefined ? undefined : path.resolve(out), profile };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (message: string) => void process.stderr.write(`${message}\n`);
  if (options.pairs < MIN_COMMITTED_PAIRS) log(`Note: ${options.pairs} pairs; results for the README need --pairs ${MIN_COMMITTED_PAIRS} or more.`);
  const workspace = createWorkspace({ pairs: options.pairs, log: (message) => log(`  ${message}`) });
  const removeSignalHandlers = closeOnSignals(workspace, log);
  const outcomes: CaseOutcome[] = [];
  const profiles: string[] = [];
  const started = performance.now();
  const loadAtStart = os.loadavg();
  try {
    for (const benchCase of options.cases) {
      log(`[${benchCase.number}] ${benchCase.id}: ${benchCase.title}`);
      const caseStarted = performance.now();
      if (options.profile) {
        profiling.dir = path.join(options.profile, benchCase.id);
        mkdirSync(profiling.dir, { recursive: true });
      }
      try {
        const measurement = await benchCase.run(workspace.bench);
        outcomes.push({ status: 'measured', benchCase, measurement, durationMs: performance.now() - caseStarted });
      } catch (error) {
        if (workspace.closing()) break;
        const status = error instanceof NotAvailable ? 'not available' : 'failed';
        const reason = error instanceof NotAvailable ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`  ${status}: ${reason}`);
        outcomes.push({ status, benchCase, reason: error instanceof NotAvailable ? reason : messageOf(error), durationMs: performance.now() - caseStarted });
      }
      log(`  done in ${formatMs(performance.now() - caseStarted)}`);
      const profile = profiling.dir ? summarizeProfiles(profiling.dir) : undefined;
      if (profile) profiles.push(`${benchCase.number}. ${benchCase.id}, candidate runs (${profiling.dir}):`, ...formatProfile(profile));
    }
  } finally {
    await workspace.close();
    removeSignalHandlers();
  }

  const document: ResultsDocument = {
    version: RESULTS_VERSION,
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    units: { time: 'ms', ratio: 'candidate / baseline' },
    settings: { pairs: options.pairs, warmUpRuns: 1 },
    machine: machineInfo(REPO_ROOT, await workspace.bench.postgres().catch(() => undefined), loadAtStart),
    cases: outcomes.map(caseResult),
  };
  log(`Benchmarked for ${formatMs(performance.now() - started)}`);
  if (options.out) {
    writeFileSync(options.out, `${JSON.stringify(document, null, 2)}\n`);
    log(`Wrote ${path.relative(process.cwd(), options.out) || options.out}`);
  }
  const profileText = profiles.length > 0 ? `\nWhere the time goes (CPU profiles; timings above include the profiler):\n${profiles.join('\n')}\n` : '';
  process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : `\n${formatReport(document)}\n${profileText}`);
  if (outcomes.some((outcome) => outcome.status === 'failed')) process.exitCode = 1;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) process.stderr.write(`bench: ${error.message}\n`);
  else process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
