// Case 5: `gulp lint` over 1 000 migration files, a separate process as a user runs it. Goal: median ≤ 2 s. Baseline:
// `gulp --tasks` from the same project, the start-up floor every gulp command pays; the ratio shows what linting adds.
// The warm-up run is the first after writing the files (jiti's transpile cache and the lint cache cold for them);
// results.json keeps it. The measured runs find every file in the lint cache (tasks/lint/lint-cache.ts); a note
// measures runs with that cache emptied, where every file is linted.
// Peer row 5a: `gulp lint` cold on 1 000 `.sql` migrations (a project of its own; the first run after writing them is
// the warm-up, the lint cache is emptied before each measured run, outside its timing) ÷ squawk on the same files, in
// the same rounds. Goal ≤ 2. "not available" where squawk's binary does not install (Linux x64 only).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLintCacheDir, lintCacheFiles } from '../../tasks/lint/lint-cache';
import { writeLintMigrations, writeSchemaSqlMigrations } from '../fixtures';
import { measurePairs, measureWithPeers, requireTasks, type BenchCase, type BenchRun, type PeerRow } from '../harness/case';
import { peerPlan, squawk } from '../harness/peers';
import { cleanEnv, expectRun, runGulp, runProcess } from '../harness/processes';
import { finishedMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const FILES = 1_000;
const SYNTAX_ONLY_RUNS = 3;
const UNCACHED_RUNS = 3;
/** Cold lint of `.sql` files ≤ 2× squawk on the same files. */
const SQUAWK_GOAL = { kind: 'ratio', max: 2 } as const;

export const lintCase: BenchCase = {
  id: 'lint',
  number: 5,
  title: `\`gulp lint\`, ${FILES.toLocaleString('en')} files ÷ \`gulp --tasks\``,
  goal: { kind: 'ms', max: 500 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['lint']);
    const project = bench.tempDir('lint');
    writeLintMigrations(path.join(project, 'migrations'), FILES);
    const lintTask: number[] = [];
    const measurement = await measurePairs(
      bench,
      {
        label: `\`gulp lint\` (defaults: file rules with type checking, SQL rules) on ${FILES} generated migrations (4 in 5 TypeScript, 1 in 5 SQL; 2–3 tables with indexes and foreign keys each; 100 with an info finding)`,
        async run({ warmUp }) {
          const result = expectRun(await runGulp(['lint'], { cwd: project }), '`gulp lint`', { output: [/Finished 'lint' after/] });
          const task = finishedMs(result.output, 'lint');
          if (!warmUp && task !== undefined) lintTask.push(task);
          return result.ms;
        },
      },
      {
        label: '`gulp --tasks` in the same project (gulp start-up and the gulpfile, no linting)',
        async run() {
          return expectRun(await runGulp(['--tasks'], { cwd: project }), '`gulp --tasks`', { output: [/lint/] }).ms;
        },
      },
    );
    measurement.notes = { 'candidate first run after writing the files (warm-up: jiti cache cold)': measurement.candidate.warmUp[0]! };
    if (lintTask.length > 0) measurement.notes["candidate series alone (gulp's \"Finished 'lint'\"), median"] = median(lintTask);
    measurement.notes[`candidate without type checking (.pgmt-lint.json { "typeCheck": false }), median of ${SYNTAX_ONLY_RUNS}`] = await syntaxOnly(
      bench,
      project,
    );
    measurement.notes[`candidate with the lint cache emptied before each run (every file linted; jiti's cache warm), median of ${UNCACHED_RUNS}`] =
      await uncached(bench, project);
    measurement.peers = [await squawkRow(bench)];
    return measurement;
  },
};

/**
 * Row 5a: `gulp lint` on 1 000 `.sql` files with its lint cache emptied before each run ÷ squawk on the same files, in
 * the same rounds. squawk with its default rules and `--reporter gcc` (one line per finding; its default reporter
 * prints a framed excerpt per finding, ~20 MB for these files, and took about twice as long in a spot check); it exits
 * 1 when it finds something, so the check is that it named every file.
 */
async function squawkRow(bench: BenchRun): Promise<PeerRow> {
  const found = await squawk();
  const title = (tool?: { version: string }) =>
    `\`gulp lint\` cold, ${FILES.toLocaleString('en')} \`.sql\` files ÷ squawk${tool ? ` ${tool.version}` : ''} (\`--reporter gcc\`)`;
  if (!('tool' in found)) return { title: title(), goal: SQUAWK_GOAL, status: 'not available', reason: found.missing };
  const project = bench.tempDir('lint-sql');
  const migrationsDir = path.join(project, 'migrations');
  writeSchemaSqlMigrations(migrationsDir, FILES);
  const cacheDir = defaultLintCacheDir(project);
  const { peers } = await measureWithPeers(bench, {
    candidate: {
      label: `\`gulp lint\` on ${FILES} generated \`.sql\` migrations (2–3 tables with indexes and foreign keys each), the lint cache emptied before each run (warm-up: the first run after writing the files)`,
      async run({ warmUp }) {
        if (cacheDir && !warmUp) for (const file of lintCacheFiles({ dir: cacheDir, projectDir: project, migrationsDir })) rmSync(file, { force: true });
        return expectRun(await runGulp(['lint'], { cwd: project }), '`gulp lint` (.sql files, cold)', { output: [/Finished 'lint' after/] });
      },
    },
    peers: [
      peerPlan(found, { title, goal: SQUAWK_GOAL }, (tool) => ({
        name: 'squawk',
        label: `\`squawk --reporter gcc 'migrations/*.sql'\` (squawk ${tool.version} from @squawk-cli/linux-x64, its default rules) on the same files; \`gulp lint\` does not run Squawk itself here (it is not where the lint looks for it)`,
        async run() {
          const result = await runProcess(tool.path, ['--reporter', 'gcc', 'migrations/*.sql'], { cwd: project, env: cleanEnv() });
          if (result.code !== 0 && result.code !== 1) expectRun(result, 'squawk');
          const files = new Set([...result.output.matchAll(/^(migrations\/[^:]+\.sql):\d+:\d+: /gm)].map((match) => match[1]));
          if (files.size !== FILES) throw new Error(`squawk reported on ${files.size} of ${FILES} files:\n${result.output.slice(-2_000)}`);
          return result;
        },
      })),
    ],
  });
  return peers![0]!;
}

/** `gulp lint` with type checking off (the project's .pgmt-lint.json), to split the time: one warm-up, then some runs. */
async function syntaxOnly(bench: BenchRun, project: string): Promise<number> {
  const config = path.join(project, '.pgmt-lint.json');
  writeFileSync(config, JSON.stringify({ typeCheck: false }));
  try {
    const times: number[] = [];
    for (let run = 0; run <= SYNTAX_ONLY_RUNS; run += 1) {
      const result = expectRun(await runGulp(['lint'], { cwd: project }), '`gulp lint` (typeCheck false)', { output: [/Finished 'lint' after/] });
      if (run > 0) times.push(result.ms);
    }
    bench.log(`without type checking: median ${Math.round(median(times))} ms`);
    return median(times);
  } finally {
    rmSync(config, { force: true });
  }
}

/**
 * `gulp lint` with its per-file cache emptied before each run: what a run costs when every file changed (the measured
 * runs above are all cache hits, since the files do not change between them).
 */
async function uncached(bench: BenchRun, project: string): Promise<number> {
  const cacheDir = defaultLintCacheDir(project);
  const times: number[] = [];
  for (let run = 0; run < UNCACHED_RUNS; run += 1) {
    if (cacheDir)
      for (const file of lintCacheFiles({ dir: cacheDir, projectDir: project, migrationsDir: path.join(project, 'migrations') })) rmSync(file, { force: true });
    times.push(expectRun(await runGulp(['lint'], { cwd: project }), '`gulp lint` (lint cache emptied)', { output: [/Finished 'lint' after/] }).ms);
  }
  bench.log(`with the lint cache emptied: median ${Math.round(median(times))} ms`);
  return median(times);
}
