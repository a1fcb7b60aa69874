// Case 9: the first `gulp migrate:local` after `npm ci` ÷ a warm one. The same project as case 1 (embedded provider,
// 50 generated TypeScript migrations), with its own node_modules folder, so its caches live where a team's do:
// node_modules/.cache/pg-migrate-tasks (the cached cluster, the lint cache) and jiti's transpile cache under TMPDIR
// (node-pg-migrate makes jiti from the working directory, which puts it in $TMPDIR/jiti). Before each cold run all of
// them are removed, as `npm ci` (and a fresh CI runner) leaves them; the warm run finds what the run before it left.
// Goal: cold ≤ 2 × warm.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSchemaMigrations } from '../fixtures';
import { measurePairs, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { expectRun, runGulp } from '../harness/processes';
import { toMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const MIGRATIONS = 50;
/** Phases each side prints with their duration. */
const PHASES: [string, RegExp][] = [
  ['server start (startDb)', /Finished 'startDb' after ([\d.]+ m?s)/],
  ['migrate task (lint pre-flight + runner)', /Finished 'migrate' after ([\d.]+ m?s)/],
  ['runner alone ("Applied … in")', /Applied \d+ migrations in (\d+ ms)/],
  ['stop + remove', /removed its files in (\d+ ms)/],
];

export const migrateLocalColdCase: BenchCase = {
  id: 'migrate-local-cold',
  number: 9,
  title: `first \`gulp migrate:local\` after \`npm ci\` (no cached cluster, no jiti or lint cache), ${MIGRATIONS} TS migrations ÷ a warm run`,
  goal: { kind: 'ratio', max: 2 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['migrate:local']);
    const project = bench.tempDir('migrate-local-cold');
    writeSchemaMigrations(path.join(project, 'migrations'), MIGRATIONS);
    writeFileSync(path.join(project, '.env'), `DB_NAME=contenthub\nDB_USER=contentuser\nDB_PASSWORD=${randomBytes(12).toString('hex')}\n`);
    // An (empty) node_modules: the nearest one above the project is where the tool keeps its caches.
    const caches = path.join(project, 'node_modules', '.cache');
    mkdirSync(path.join(project, 'node_modules'));
    // A TMPDIR of our own (the server's temp dir and jiti's cache go there); the server's OS user must traverse it.
    const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-bench-cold-'));
    chmodSync(tmpDir, 0o755);
    bench.onCleanup('cold-run TMPDIR', () => rmSync(tmpDir, { recursive: true, force: true }));
    const env = { TMPDIR: tmpDir };

    const phases = new Map<string, number[]>();
    const note = (name: string, ms: number) => phases.set(name, [...(phases.get(name) ?? []), ms]);
    const run = async (side: 'cold' | 'warm', warmUp: boolean) => {
      if (side === 'cold') {
        rmSync(caches, { recursive: true, force: true });
        rmSync(path.join(tmpDir, 'jiti'), { recursive: true, force: true });
      }
      const result = expectRun(await runGulp(['migrate:local', '--provider', 'embedded'], { cwd: project, env }), `\`gulp migrate:local\` (${side})`, {
        output: [new RegExp(`Applied ${MIGRATIONS} migrations in`), /Stopped the embedded database and removed its files/],
      });
      if (side === 'cold' && !/Cached the prepared cluster/.test(result.output))
        throw new Error('the cold run did not make the cached cluster: a cache was left');
      if (!warmUp) {
        for (const [name, pattern] of PHASES) {
          const match = pattern.exec(result.output)?.[1];
          if (match) note(`${side} ${name}`, toMs(match));
        }
      }
      return result.ms;
    };

    const measurement = await measurePairs(
      bench,
      {
        label: 'cold: `gulp migrate:local --provider embedded` with node_modules/.cache and $TMPDIR/jiti removed first',
        run: ({ warmUp }) => run('cold', warmUp),
      },
      { label: 'warm: the same command, caches left by the run before', run: ({ warmUp }) => run('warm', warmUp) },
    );
    measurement.notes = {};
    for (const [name, values] of phases) measurement.notes[name] = median(values);
    return measurement;
  },
};
