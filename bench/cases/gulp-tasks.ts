// Case 2: `gulp --tasks` with gulpfile.ts (through whatever TypeScript loader the repository uses) ÷ the same gulpfile
// precompiled to JavaScript by tsc. Goal ≤ 1.3: the price of loading TypeScript at every start.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { measurePairs, type BenchCase, type BenchRun } from '../harness/case';
import { cleanEnv, expectRun, REPO_ROOT, runGulp, runProcess } from '../harness/processes';

const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

export const gulpTasksCase: BenchCase = {
  id: 'gulp-tasks',
  number: 2,
  title: '`gulp --tasks` ÷ same gulpfile precompiled',
  goal: { kind: 'ratio', max: 1.1 },
  async run(bench: BenchRun) {
    const compiled = compileGulpfile(bench);
    const gulpfileJs = path.join(await compiled, 'gulpfile.js');
    // Both must list the same tasks and flags (the order may differ with the loader), so the baseline is the same
    // gulpfile and not a broken one that exits early.
    const listing = (output: string) =>
      output
        .split('\n')
        .filter((line) => !/Using gulpfile|Tasks for/.test(line))
        .map((line) =>
          line
            .replace(/^\[[\d:]+\] /, '')
            .replace(/[│├└─┬]/g, '')
            .trim(),
        )
        .filter(Boolean)
        .sort();
    let expected: string[] | undefined;
    const check = (output: string, what: string) => {
      const lines = listing(output);
      expected ??= lines;
      const missing = expected.filter((line) => !lines.includes(line));
      const extra = lines.filter((line) => !expected!.includes(line));
      if (missing.length > 0 || extra.length > 0)
        throw new Error(`${what} listed other tasks than gulpfile.ts: missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}`);
    };
    return measurePairs(
      bench,
      {
        label: '`gulp --tasks` (gulpfile.ts, the repository as it is: .gulp.js and its loader)',
        async run() {
          const result = expectRun(await runGulp(['--tasks'], { cwd: REPO_ROOT }), '`gulp --tasks`', { output: [/migrate:local/] });
          check(result.output, '`gulp --tasks`');
          return result.ms;
        },
      },
      {
        label: '`gulp --tasks` with the tsc output (.bench-tmp/…/gulpfile.js; its own empty .gulp.js, so no TypeScript loader)',
        async run() {
          const result = expectRun(await runGulp(['--tasks'], { gulpfile: gulpfileJs, cwd: path.dirname(gulpfileJs) }), '`gulp --tasks` (compiled)', {
            output: [/migrate:local/],
          });
          check(result.output, '`gulp --tasks` (compiled)');
          return result.ms;
        },
      },
    );
  },
};

/**
 * Emits CommonJS for gulpfile.ts and what it imports (the repository's compiler options) into a temp folder, with an
 * empty .gulp.js beside it: gulp-cli looks for .gulp.js upwards from --cwd, and would otherwise find the repository's
 * (which installs the TypeScript loader). node_modules still resolves upwards to the repository's.
 */
async function compileGulpfile(bench: BenchRun): Promise<string> {
  const dir = bench.tempDir('compiled');
  const outDir = path.join(dir, 'out');
  const tsconfig = path.join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: path.join(REPO_ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: false, outDir, rootDir: REPO_ROOT, types: ['node'] },
      files: [path.join(REPO_ROOT, 'gulpfile.ts')],
      include: [],
    }),
  );
  bench.log('compiling gulpfile.ts with tsc');
  const result = await runProcess(process.execPath, [TSC, '-p', tsconfig], { cwd: REPO_ROOT, env: cleanEnv() });
  // Type errors (exit 2) still emit: the JavaScript is what counts here, and `npm run typecheck` reports them.
  if (result.code !== 0 && result.code !== 2) expectRun(result, 'tsc');
  writeFileSync(path.join(outDir, '.gulp.js'), 'module.exports = {};\n');
  return outDir;
}
