// Child processes of the bench, run as a user would run them, timed from spawn to exit. Every child is tracked so an
// interrupted bench can end them before it removes their folders.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const GULP_CLI = path.join(REPO_ROOT, 'node_modules', 'gulp', 'bin', 'gulp.js');
/** How long one child may take before the bench gives up on it (a hung run is a failed bench, not a number). */
const DEFAULT_TIMEOUT_MS = 120_000;

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, in order. */
  output: string;
  /** From just before spawn to the child's exit with its output closed. */
  ms: number;
  /**
   * CPU time (user + sys, ms) of the child and every descendant it waited for (not a server it started that outlived
   * it, not the shared server's backends), 10 ms resolution; undefined when it cannot be told apart (another child of
   * the bench started or ended meanwhile) or the system has no /proc (see childCpuMs).
   */
  cpuMs?: number;
}

export interface RunOptions {
  cwd: string;
  /** The whole environment of the child (see cleanEnv). */
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export interface RunningProcess {
  /** Output so far. */
  output(): string;
  /** Calls `listener` with each complete output line from now on. */
  onLine(listener: (line: string) => void): void;
  done: Promise<ProcessResult>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();
/** Spawns and exits of the bench's children so far: a child's CPU time is only its own when this did not move meanwhile. */
let childEvents = 0;

let clockTicksPerSecond: number | undefined;
/**
 * The CPU time (user + sys, ms) of this process's children that have ended and been waited for, with their own waited-
 * for descendants (Linux: cutime + cstime of /proc/self/stat; libuv waits for each child when it exits). The difference
 * around one child's run is that child's CPU time, as `/usr/bin/time` would report it, without a wrapper process.
 * Undefined where there is no /proc (the bench then reports no CPU times).
 */
export function childCpuMs(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  // Asked once, before the first reading (getconf's own CPU time must not land inside a measured run).
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100; // USER_HZ on every Linux architecture Node runs on
    }
  }
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // Fields after "pid (comm) ": state is field 3, cutime 16, cstime 17 (proc(5)); comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  return Number.isFinite(ticks) ? (ticks * 1_000) / clockTicksPerSecond : undefined;
}

/**
 * `--profile`: where gulp processes write CPU profiles (a folder per case), and whether the run in hand is profiled (the
 * measured candidate runs only: measurePairs switches it off for warm-ups and baselines).
 */
export const profiling: { dir?: string; active: boolean } = { active: false };

/** Starts `command`; its output is collected, and it counts as running until it exits. */
export function startProcess(command: string, args: readonly string[], { cwd, env, timeoutMs = DEFAULT_TIMEOUT_MS }: RunOptions): RunningProcess {
  const listeners: ((line: string) => void)[] = [];
  let output = '';
  let partial = '';
  // CPU time is only attributable when no other child of the bench runs beside this one.
  const alone = running.size === 0;
  const cpuBefore = alone ? childCpuMs() : undefined;
  const started = performance.now();
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const eventsAtSpawn = (childEvents += 1);
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    if (listeners.length === 0) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) for (const listener of listeners) listener(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      childEvents += 1;
      reject(error);
    });
    child.once('close', (code, signal) => {
      const ms = performance.now() - started;
      const cpuAfter = cpuBefore !== undefined && childEvents === eventsAtSpawn ? childCpuMs() : undefined;
      clearTimeout(timer);
      running.delete(child);
      childEvents += 1;
      resolve({ code, signal, output, ms, ...(cpuAfter !== undefined ? { cpuMs: cpuAfter - cpuBefore! } : {}) });
    });
  });
  return {
    output: () => output,
    onLine: (listener) => void listeners.push(listener),
    done,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
}

export function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  return startProcess(command, args, options).done;
}

/**
 * The environment a user's shell would give the command, without the developer's settings: PATH and HOME, no colour,
 * the variables that pick binaries and temp dirs when the bench was given them, then `extra`. (As
 * test/support/project.ts startGulp does, so nothing of a local .env or shell leaks in.)
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NO_COLOR: '1',
  };
  for (const name of ['TMPDIR', 'DB_PG_BIN', 'DB_OS_USER']) if (process.env[name]) env[name] = process.env[name];
  return { ...env, ...extra };
}

/** `node node_modules/gulp/bin/gulp.js --gulpfile <gulpfile> --cwd <cwd> ...args`, as the tests run gulp. */
export function gulpCommand(
  args: readonly string[],
  { gulpfile = path.join(REPO_ROOT, 'gulpfile.ts'), cwd }: { gulpfile?: string; cwd: string },
): [string, string[]] {
  return [process.execPath, [GULP_CLI, '--gulpfile', gulpfile, '--cwd', cwd, ...args]];
}

export function startGulp(
  args: readonly string[],
  { gulpfile, cwd, env = {}, timeoutMs }: { gulpfile?: string; cwd: string; env?: Record<string, string>; timeoutMs?: number },
): RunningProcess {
  const [command, fullArgs] = gulpCommand(args, { gulpfile, cwd });
  // (Node refuses --cpu-prof in NODE_OPTIONS.)
  if (profiling.dir && profiling.active) fullArgs.unshift('--cpu-prof', `--cpu-prof-dir=${profiling.dir}`);
  return startProcess(command, fullArgs, { cwd, env: cleanEnv(env), timeoutMs });
}

export function runGulp(
  args: readonly string[],
  options: { gulpfile?: string; cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<ProcessResult> {
  return startGulp(args, options).done;
}

/**
 * Throws (the bench failed, not the goal) when a run did not end as expected: exit code `code` and every pattern found
 * in its output. The message ends with the last lines of the output.
 */
export function expectRun(result: ProcessResult, what: string, { code = 0, output = [] }: { code?: number; output?: RegExp[] } = {}): ProcessResult {
  const missing = output.filter((pattern) => !pattern.test(result.output));
  if (result.code === code && missing.length === 0) return result;
  const ended = result.code === null ? `signal ${result.signal}` : `exit code ${result.code}`;
  // The error gulp (or the command) printed, for the table: "Error: timeout expired".
  const error = result.output
    .split('\n')
    .reverse()
    .find((line) => /\b\w*Error: /.test(line))
    ?.replace(/^.*?\b(\w*Error: )/, '$1')
    .trim();
  const why = result.code !== code ? `${ended} (expected ${code})${error ? `, ${error}` : ''}` : `no line matching ${missing.join(', ')}`;
  throw new Error(`${what}: ${why}\n  its output ends:\n    ${tail(result.output, 12).join('\n    ')}`);
}

export function tail(text: string, lines: number): string[] {
  return text.trimEnd().split('\n').slice(-lines);
}

/**
 * Ends every child still running (`signal` first: gulp and the shell baseline clean up after it), waits up to
 * `graceMs` for them, then kills what is left.
 */
export async function stopRunningProcesses({ signal = 'SIGINT', graceMs = 10_000 }: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<void> {
  const children = [...running];
  if (children.length === 0) return;
  const exited = children.map(
    (child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('close', () => resolve()))),
  );
  for (const child of children) child.kill(signal);
  const timer = setTimeout(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}
