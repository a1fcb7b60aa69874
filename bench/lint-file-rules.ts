// Benchmark: the file-level lint rules (tasks/lint/file-rules.ts) on one file and on 1 000 files.
// Run: node -r ts-node/register bench/lint-file-rules.ts
// Each measurement that needs a cold process (TypeScript, node-pg-migrate and jiti not loaded, no language service)
// runs in a child process of its own. Files are written to temp folders and removed whatever happens; jiti's transpile
// cache on disk (node_modules/.cache/jiti) is whatever the machine has, as for a user.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkFiles, prepareFileRules } from '../tasks/lint/file-rules';

const FILES = 1_000;
const WARM_RUNS = 15;
const REPO_ROOT = path.resolve(__dirname, '..');

const migration = (index: number, table = `widgets_${index}`) => `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('${table}', {
    id: 'id',
    name: { type: 'text', notNull: true },
    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },
  });
  pgm.createIndex('${table}', 'created_at');
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('${table}');
};
`;
const nameOf = (index: number) => `${1_700_000_000_000 + index * 1_000}_create_widgets_${index}.ts`;

interface Measurement {
  label: string;
  ms: number;
}

/** In a child process: one measurement from cold, then (for one file) warm re-checks after an edit. */
async function child(mode: string, projectDir: string, typeCheck: boolean): Promise<Measurement[]> {
  const migrationsDir = path.join(projectDir, 'migrations');
  const count = mode === 'many' ? FILES : 1;
  const files = Array.from({ length: count }, (_, index) => path.join(migrationsDir, nameOf(index)));
  const context = { migrationsDir, projectDir, newFiles: [], typeCheck };
  const results: Measurement[] = [];
  let started = performance.now();
  if (mode === 'prepared') {
    await prepareFileRules({ projectDir, typeCheck });
    results.push({ label: 'prepareFileRules (a watcher at start)', ms: performance.now() - started });
    started = performance.now();
    await checkFiles(files, context);
    results.push({ label: 'then the first file', ms: performance.now() - started });
    return results;
  }
  await checkFiles(files, context);
  results.push({ label: `cold, ${count} file${count === 1 ? '' : 's'}`, ms: performance.now() - started });
  if (mode === 'many') {
    started = performance.now();
    await checkFiles(files, context);
    results.push({ label: `warm (same process, files unchanged), ${count} files`, ms: performance.now() - started });
    return results;
  }
  const times: number[] = [];
  for (let run = 0; run < WARM_RUNS; run += 1) {
    writeFileSync(files[0]!, migration(0, `widgets_edit_${run}`)); // an edit, as a save in the watcher
    started = performance.now();
    await checkFiles(files, context);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  results.push({ label: `warm, 1 file edited (median of ${WARM_RUNS})`, ms: times[Math.floor(times.length / 2)]! });
  return results;
}

function ms(value: number): string {
  return `${Math.round(value).toLocaleString('en')} ms`;
}

async function main(): Promise<void> {
  const [, , role, mode, projectDir, typeCheck] = process.argv;
  if (role === '--child') {
    console.log(JSON.stringify(await child(mode!, projectDir!, typeCheck === 'true')));
    return;
  }
  const temp = mkdtempSync(path.join(os.tmpdir(), 'pgmt-bench-lint-'));
  try {
    // Project without tsconfig.json (temp folder): defaults. Project with one: a folder inside the repository, so its
    // tsconfig.json (types node + mocha, module node20) is found upwards, as in a user's project.
    const bare = path.join(temp, 'bare');
    const withConfig = mkdtempSync(path.join(REPO_ROOT, '.bench-lint-'));
    try {
      for (const dir of [bare, withConfig]) {
        mkdirSync(path.join(dir, 'migrations'), { recursive: true });
        for (let index = 0; index < FILES; index += 1) writeFileSync(path.join(dir, 'migrations', nameOf(index)), migration(index));
      }
      for (const [project, dir] of [['no tsconfig.json', bare], ["the repository's tsconfig.json", withConfig]] as const) {
        for (const typeCheck of [true, false]) {
          console.log(`${project}, typeCheck ${typeCheck}:`);
          for (const mode of ['one', 'prepared', 'many']) {
            const output = execFileSync(process.execPath, ['-r', 'ts-node/register', __filename, '--child', mode, dir, String(typeCheck)], { cwd: REPO_ROOT, encoding: 'utf8' });
            for (const { label, ms: time } of JSON.parse(output.trim().split('\n').pop()!) as Measurement[]) console.log(`  ${label}: ${ms(time)}`);
          }
        }
      }
    } finally {
      rmSync(withConfig, { recursive: true, force: true });
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
