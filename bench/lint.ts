// Benchmark: the whole linter (tasks/lint: file rules + rendering + SQL rules + suppressions) on a folder of 1 000
// migrations (target: ≤ 2 s for `gulp lint`) and on one file saved in that folder (target: well under 150 ms warm).
// Run: node -r ts-node/register bench/lint.ts
// Cold measurements run in a child process of their own (TypeScript, node-pg-migrate, jiti and the WASM parser not
// loaded yet). jiti's transpile cache on disk (node_modules/.cache/jiti) is whatever the machine has, as for a user:
// the first run after writing new files is the "cold cache" figure, the next ones are warm. Files are written to a
// temp folder and removed whatever happens.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lintMigrationFiles, lintMigrationsFolder } from '../tasks/lint';

const FILES = 1_000;
const WARM_RUNS = 15;
const REPO_ROOT = path.resolve(__dirname, '..');

/** Four TS migrations in five (with findings: an index on an existing table, a varchar), one .sql. */
function writeFolder(migrationsDir: string, salt: string): string[] {
  mkdirSync(migrationsDir, { recursive: true });
  const files: string[] = [];
  for (let index = 0; index < FILES; index += 1) {
    const stamp = 1_700_000_000_000 + index * 1_000;
    const table = `widgets_${index}_${salt}`;
    const sql = index % 5 === 4;
    const file = path.join(migrationsDir, `${stamp}_migration_${index}.${sql ? 'sql' : 'ts'}`);
    writeFileSync(file, sql ? sqlMigration(table) : tsMigration(table, `widgets_${Math.max(0, index - 1)}_${salt}`));
    files.push(file);
  }
  return files;
}

const tsMigration = (table: string, previous: string) => `import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable('${table}', {
    id: 'id',
    name: { type: 'varchar(200)', notNull: true },
    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },
  });
  pgm.createIndex('${table}', 'created_at');
  pgm.addColumn('${previous}', { note: { type: 'text' } });
  pgm.createIndex('${previous}', 'note');
};

export const down = (pgm: MigrationBuilder): void => {
  pgm.dropTable('${table}');
};
`;

const sqlMigration = (table: string) => `-- Up Migration
CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL);
CREATE INDEX ${table}_name ON ${table} (name);
ALTER TABLE ${table} ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- Down Migration
DROP TABLE ${table};
`;

interface Measurement {
  label: string;
  ms: number;
}

async function child(projectDir: string, typeCheck: boolean): Promise<Measurement[]> {
  const migrationsDir = path.join(projectDir, 'migrations');
  const options = { migrationsDir, projectDir, typeCheck };
  const results: Measurement[] = [];
  let started = performance.now();
  const first = await lintMigrationsFolder(options);
  results.push({ label: `cold process, ${FILES} files`, ms: performance.now() - started });
  const findings = first.reduce((sum, result) => sum + result.diagnostics.length, 0);
  if (findings < FILES / 2) throw new Error(`expected findings in most files, got ${findings}`);

  started = performance.now();
  await lintMigrationsFolder(options);
  results.push({ label: `same process again, ${FILES} files unchanged`, ms: performance.now() - started });

  // The watcher's case: one file saved, linted on its own (folder-level rules still read the folder).
  const file = path.join(migrationsDir, `${1_700_000_000_000 + 10 * 1_000}_migration_10.ts`);
  const times: number[] = [];
  for (let run = 0; run < WARM_RUNS; run += 1) {
    writeFileSync(file, tsMigration(`edited_${run}`, 'widgets_9'));
    started = performance.now();
    const [result] = await lintMigrationFiles([file], { ...options, newFiles: [] });
    times.push(performance.now() - started);
    if (!result?.diagnostics.some((diagnostic) => diagnostic.ruleId === 'create-index-not-concurrently')) throw new Error('the edited file lost its finding');
  }
  times.sort((a, b) => a - b);
  results.push({ label: `one file edited and linted (median of ${WARM_RUNS}; min ${Math.round(times[0]!)}, max ${Math.round(times.at(-1)!)})`, ms: times[Math.floor(times.length / 2)]! });
  return results;
}

function ms(value: number): string {
  return `${Math.round(value).toLocaleString('en')} ms`;
}

async function main(): Promise<void> {
  const [, , role, projectDir, typeCheck] = process.argv;
  if (role === '--child') {
    console.log(JSON.stringify(await child(projectDir!, typeCheck === 'true')));
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-bench-lint-'));
  try {
    writeFolder(path.join(dir, 'migrations'), Date.now().toString(36));
    for (const [label, typeCheck] of [
      ['new files (jiti transpile cache cold), syntax only', false],
      ['same files again (jiti cache warm), syntax only', false],
      ['same files, with type-checking', true],
    ] as const) {
      const output = execFileSync(process.execPath, ['-r', 'ts-node/register', __filename, '--child', dir, String(typeCheck)], { cwd: REPO_ROOT, encoding: 'utf8' });
      console.log(`${label}:`);
      for (const { label: what, ms: value } of JSON.parse(output.trim().split('\n').at(-1)!) as Measurement[]) console.log(`  ${what}: ${ms(value)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
