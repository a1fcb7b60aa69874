import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

/** The starter schema's migrations (migrations/), in order. */
export const STARTER_MIGRATIONS = [
  '1732500000000_enable_pgcrypto',
  '1732500001000_create_set_updated_at_function',
  '1732500002000_create_users',
  '1732500003000_create_content',
  '1732500004000_create_tags',
];

/** test/fixtures/batch: ten migrations (tables, enum, seed data, function, trigger, view), in order. */
export const BATCH_MIGRATIONS = [
  '1200000000001_create_accounts',
  '1200000000002_create_account_status',
  '1200000000003_add_accounts_status',
  '1200000000004_seed_accounts',
  '1200000000005_create_orders',
  '1200000000006_create_order_notes',
  '1200000000007_create_touch_function',
  '1200000000008_create_orders_trigger',
  '1200000000009_create_order_totals',
  '1200000000010_add_accounts_note',
];

/** A throw-away project folder: its own migrations, .env and kept-database record, nothing of the developer's. */
export interface TestProject {
  dir: string;
  migrationsDir: string;
  /** Copies fixture migration files (from test/fixtures/<set>/) into the project's migrations/. */
  addMigrations(set: string, names?: string[]): void;
  writeFile(relative: string, content: string): void;
  remove(): void;
}

/**
 * Test projects live inside the repository (git-ignored) because gulp-cli finds .gulp.js (the TypeScript loader) and gulp
 * from the project folder, as it would in a user's project.
 */
const PROJECTS_DIR = path.join(REPO_ROOT, '.test-projects');

export function createTestProject(): TestProject {
  mkdirSync(PROJECTS_DIR, { recursive: true });
  const dir = mkdtempSync(path.join(PROJECTS_DIR, 'project-'));
  const migrationsDir = path.join(dir, 'migrations');
  return {
    dir,
    migrationsDir,
    addMigrations(set, names) {
      const from = set === 'starter' ? path.join(REPO_ROOT, 'migrations') : path.join(FIXTURES, set);
      if (!names) cpSync(from, migrationsDir, { recursive: true });
      else for (const name of names) cpSync(path.join(from, name), path.join(migrationsDir, name));
    },
    writeFile(relative, content) {
      writeFileSync(path.join(dir, relative), content);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
      try {
        rmdirSync(PROJECTS_DIR);
      } catch {
        // Another test project still uses it.
      }
    },
  };
}

export interface GulpRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, in order. */
  output: string;
}

export interface GulpProcess {
  done: Promise<GulpRun>;
  /** Output so far. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
  /** Closes our ends of its stdout and stderr, as `| head` does once it has read enough. */
  closeOutput(): void;
}

/**
 * Runs this repository's gulpfile as a user would (`gulp <args>`), from `cwd`, with exactly `env` on top of a clean
 * environment (PATH, HOME), so nothing of the developer's shell or .env leaks in.
 */
export function startGulp(
  args: string[],
  {
    cwd,
    env = {},
    gulpfile = path.join(REPO_ROOT, 'gulpfile.ts'),
    outputGate,
  }: {
    cwd: string;
    env?: Record<string, string>;
    gulpfile?: string;
    /** A slow reader: gulp writes to a real pipe (64 KB) that nothing reads until this file exists. Signals then reach the shell, not gulp. */
    outputGate?: string;
  },
): GulpProcess {
  // One pipe for stdout and stderr (the shell's 2>&1, then exec: the pid is gulp's), so the output arrives in the order
  // it was written, as in a terminal; two pipes would be read in whatever order their data comes.
  const gulpArgs = [path.join(REPO_ROOT, 'node_modules', 'gulp', 'bin', 'gulp.js'), '--gulpfile', gulpfile, '--cwd', cwd, ...args];
  const [shell, script] = outputGate
    ? ['/bin/bash', 'set -o pipefail; "$0" "$@" 2>&1 | { while [ ! -e "$OUTPUT_GATE" ]; do sleep 0.1; done; exec cat; }']
    : ['/bin/sh', 'exec "$0" "$@" 2>&1'];
  const child = spawn(shell, ['-c', script, process.execPath, ...gulpArgs], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_COLOR: '1',
      ...env,
      ...(outputGate ? { OUTPUT_GATE: outputGate } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const done = new Promise<GulpRun>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output })));
  return {
    done,
    output: () => output,
    kill: (signal) => child.kill(signal),
    closeOutput: () => {
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}

export function runGulp(args: string[], options: { cwd: string; env?: Record<string, string>; gulpfile?: string }): Promise<GulpRun> {
  return startGulp(args, options).done;
}

/**
 * Waits until the `slow` fixture migration's up() ran twice (in the lint pre-flight, then in the run, which then sleeps
 * in pg_sleep): the moment to interrupt or break a run mid-migration.
 */
export async function untilSlowMigrationRuns(gulp: GulpProcess, marker: string): Promise<void> {
  const upCalls = () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0);
  for (let waited = 0; upCalls() < 2; waited += 50) {
    if (waited > 30_000) throw new Error(`the slow migration never started:\n${gulp.output()}`);
    await sleep(50);
  }
  await sleep(200);
}

/** A gulp run that has not ended by then is hung. */
const HANG_MS = 60_000;

/** Waits for a gulp run, killing it (and failing) if it has not ended within a minute: a hang is a failure, not a stuck suite. */
export async function finished(gulp: GulpProcess, what: string): Promise<GulpRun> {
  const timer = setTimeout(() => gulp.kill('SIGKILL'), HANG_MS);
  const run = await gulp.done;
  clearTimeout(timer);
  if (run.signal === 'SIGKILL') throw new Error(`${what}: still running after ${HANG_MS} ms (hung); output:\n${run.output}`);
  return run;
}
