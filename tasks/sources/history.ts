import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { TaskError, messageOf } from '../util/errors';

const git = promisify(execFile);
const GIT_TIMEOUT_MS = 10_000;

/**
 * Which migrations are history (already on the base branch) and which are new, as git tells it: a migration is new
 * when its file is not in the migrations folder at the merge base of HEAD and the base branch.
 */
export interface GitHistory {
  kind: 'git';
  /** The base as said in messages: `origin/main`, `main`, or the --base / MIGRATIONS_BASE given. */
  base: string;
  /** File names (with extension) of the migrations folder at the merge base. */
  files: ReadonlySet<string>;
}

/** Why git cannot tell (not a repository, no base branch, git not installed): new is then decided another way. */
export interface NoHistory {
  kind: 'none';
  reason: string;
}

/**
 * The history of the migrations folder as git knows it. `base`: a ref (--base / MIGRATIONS_BASE); default the
 * repository's default branch (`origin/HEAD`, else a local `main` or `master`). A base that was given and cannot be
 * used is a TaskError; a default that cannot be found is `{ kind: 'none' }` with the reason.
 * @example const history = await gitHistory('/app/migrations'); // { kind: 'git', base: 'origin/main', files }
 */
export async function gitHistory(migrationsDir: string, base?: string): Promise<GitHistory | NoHistory> {
  const runIn = async (cwd: string, args: string[]) => (await git('git', args, { cwd, timeout: GIT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
  const run = (args: string[]) => runIn(migrationsDir, args);
  let top: string;
  try {
    top = await run(['rev-parse', '--show-toplevel']);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (base !== undefined) {
      throw new TaskError(`--base ${base} needs git, and ${missing ? 'git is not installed' : `${migrationsDir} is not in a git repository`}`, {
        hint: 'run it inside the project’s git checkout, or leave --base / MIGRATIONS_BASE unset',
        cause: error,
      });
    }
    return { kind: 'none', reason: missing ? 'git is not installed' : 'the migrations folder is not in a git repository' };
  }
  const ref = base ?? (await defaultBranch(run));
  if (ref === undefined) return { kind: 'none', reason: 'the repository has no origin/HEAD, main or master branch to compare with' };
  let mergeBase: string;
  try {
    mergeBase = await run(['merge-base', 'HEAD', ref]);
  } catch (error) {
    if (base === undefined) return { kind: 'none', reason: `HEAD and ${ref} have no common commit` };
    throw new TaskError(`--base ${base}: git cannot find a common commit of HEAD and ${base} (${firstLine(error)})`, {
      hint: 'name a branch, tag or commit of this repository (e.g. --base origin/main), or leave --base / MIGRATIONS_BASE unset',
      cause: error,
    });
  }
  const folder = path.relative(await realPath(top), await realPath(migrationsDir)) || '.';
  // From the top: in a subfolder, ls-tree would also limit the listing to that subfolder's path.
  const listed = await runIn(top, ['ls-tree', '--name-only', `${mergeBase}:${folder === '.' ? '' : folder.split(path.sep).join('/')}`]).catch(() => '');
  return { kind: 'git', base: ref, files: new Set(listed.split('\n').filter(Boolean)) };
}

/** The default branch: what `origin/HEAD` points at, else a local main or master. */
async function defaultBranch(run: (args: string[]) => Promise<string>): Promise<string | undefined> {
  const remoteHead = await run(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']).catch(() => '');
  if (remoteHead) return remoteHead;
  for (const candidate of ['main', 'master']) {
    const found = await run(['rev-parse', '--verify', '--quiet', `refs/heads/${candidate}`]).catch(() => '');
    if (found) return candidate;
  }
  return undefined;
}

async function realPath(dir: string): Promise<string> {
  const { realpath } = await import('node:fs/promises');
  return realpath(dir).catch(() => path.resolve(dir));
}

function firstLine(error: unknown): string {
  const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
  return (stderr || messageOf(error)).split('\n')[0]!;
}
