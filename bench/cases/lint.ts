// Case 5: `gulp lint` over 1 000 migration files, a separate process as a user runs it. Goal: median ≤ 2 s. Baseline:
// `gulp --tasks` from the same project, the start-up floor every gulp command pays; the ratio shows what linting adds.
// The warm-up run is the first after writing the files (jiti's transpile cache and the lint cache cold for them);
// results.json keeps it. The measured runs find every file in the lint cache (tasks/lint/lint-cache.ts); a note
// measures runs with that cache emptied, where every file is linted.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLintCacheDir, lintCacheFiles } from '../../tasks/lint/lint-cache';
import { writeLintMigrations } from '../fixtures';
import { measurePairs, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { expectRun, runGulp } from '../harness/processes';
import { finishedMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const FILES = 1_000;
const SYNTAX_ONLY_RUNS = 3;
const UNCACHED_RUNS = 3;

export const lintCase: BenchCase = {
  id: 'lint',
  number: 5,
  title: `\`gulp lint\`, ${FILES.toLocaleString('en')} files ÷ \`gulp --tasks\``,
  goal: { kind: 'ms', max: 2_000 },
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
    return measurement;
  },
};

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
