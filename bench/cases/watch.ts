// Case 4: save-to-diagnostic latency of `gulp watch` (a real gulp process, as a user runs it): from just before a
// migration file is written to the moment the watcher's line about it arrives on its stdout. Saves alternate a clean
// version and one with a syntax error, each waits for the previous result (none coalesce). Goal: median ≤ 150 ms.
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { REPO_ROOT, startGulp, tail } from '../harness/processes';
import { median, percentile } from '../harness/stats';

const WARM_UP_SAVES = 3;
/** At least 20 saves; more with more pairs. */
const savesFor = (pairs: number) => Math.max(20, pairs * 5);
/** Pause between a result and the next save, as between two saves in an editor. */
const PAUSE_MS = 50;
/** Not a timing assertion: how long to wait for a line before calling the bench broken. */
const LINE_LIMIT_MS = 30_000;
const FILE = '1732600000000_bench_widgets.ts';

/** A migration adding a table with `columns` text columns; `broken` drops the closing brace of `down` (TS1005). */
function migration(columns: number, broken: boolean): string {
  const defs = Array.from({ length: columns }, (_, index) => `c${index}: { type: 'text' }`).join(', ');
  const text = [
    "import type { MigrationBuilder } from 'node-pg-migrate';",
    '',
    'export const up = (pgm: MigrationBuilder): void => {',
    `  pgm.createTable('bench_widgets', { id: { type: 'integer', primaryKey: true }, ${defs} });`,
    '};',
    '',
    'export const down = (pgm: MigrationBuilder): void => {',
    "  pgm.dropTable('bench_widgets');",
    '};',
    '',
  ].join('\n');
  return broken ? text.replace(/\};\n$/, '\n') : text;
}

export const watchCase: BenchCase = {
  id: 'watch',
  number: 4,
  title: '`gulp watch`, save → diagnostic',
  goal: { kind: 'ms', max: 150 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['watch']);
    const project = bench.tempDir('watch');
    cpSync(path.join(REPO_ROOT, 'migrations'), path.join(project, 'migrations'), { recursive: true });
    const file = path.join(project, 'migrations', FILE);
    const saves = savesFor(bench.pairs);

    const gulp = startGulp(['watch'], { cwd: project, timeoutMs: 10 * 60_000 });
    const stop = async () => {
      gulp.kill('SIGINT');
      await gulp.done;
    };
    const unregister = bench.onCleanup('gulp watch', stop);
    let waiting: { pattern: RegExp; resolve: (line: string) => void; reject: (error: Error) => void } | undefined;
    gulp.onLine((line) => {
      if (waiting?.pattern.test(line)) {
        const { resolve } = waiting;
        waiting = undefined;
        resolve(line);
      }
    });
    let ended: string | undefined;
    void gulp.done.then((result) => {
      ended = `\`gulp watch\` ended (exit ${result.code ?? result.signal})\n  its output ends:\n    ${tail(result.output, 12).join('\n    ')}`;
      waiting?.reject(new Error(ended));
    });
    const nextLine = (pattern: RegExp) => {
      let timer: NodeJS.Timeout | undefined;
      return new Promise<string>((resolve, reject) => {
        if (ended) return reject(new Error(ended));
        waiting = { pattern, resolve, reject };
        const why = () =>
          `\`gulp watch\` printed no line matching ${pattern} within ${LINE_LIMIT_MS} ms\n  its output ends:\n    ${tail(gulp.output(), 12).join('\n    ')}`;
        timer = setTimeout(() => reject(new Error(why())), LINE_LIMIT_MS);
      }).finally(() => {
        clearTimeout(timer);
        waiting = undefined;
      });
    };

    try {
      const startedAt = performance.now();
      await nextLine(/Watching /);
      const readyMs = performance.now() - startedAt;
      bench.log(`watcher ready in ${Math.round(readyMs)} ms`);

      const warmUp: number[] = [];
      const samples: number[] = [];
      const lintShares: number[] = [];
      const unexpected: string[] = [];
      const escaped = FILE.replace(/\./g, '\\.');
      for (let save = 0; save < WARM_UP_SAVES + saves; save += 1) {
        const broken = save % 2 === 1;
        const result = nextLine(new RegExp(escaped));
        const before = performance.now();
        writeFileSync(file, migration(1 + (save % 5), broken));
        const line = await result;
        const total = performance.now() - before;
        // gulplog prefixes a time: "[06:01:39] ✓ file (12 ms)".
        const clean = /^(\[[\d:]+\] )?✓/.test(line);
        if (clean === broken) unexpected.push(`save ${save + 1} (${broken ? 'with a syntax error' : 'clean'}) printed: ${line}`);
        if (save < WARM_UP_SAVES) warmUp.push(total);
        else {
          samples.push(total);
          const share = /\((\d+) ms\)/.exec(line)?.[1];
          if (share) lintShares.push(Number(share));
        }
        await sleep(PAUSE_MS);
      }
      if (unexpected.length > 0) throw new Error(`${unexpected.length} saves were not reported as expected, e.g. ${unexpected[0]}`);
      bench.log(`${saves} saves, median ${Math.round(median(samples))} ms`);
      return {
        candidate: {
          label: `\`gulp watch\` in a project with the starter migrations: ${saves} saves of one new migration (clean and broken alternately) after ${WARM_UP_SAVES} warm-up saves`,
          warmUp,
          samples,
        },
        notes: {
          'watcher start-up (gulp start to "Watching …")': readyMs,
          'p90 of the saves': percentile(samples, 90),
          ...(lintShares.length > 0 ? { 'linter\'s own share (the printed "(N ms)"), median': median(lintShares) } : {}),
        },
      };
    } finally {
      unregister();
      await stop();
    }
  },
};
