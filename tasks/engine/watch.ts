import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { countFindings, formatFile, painter } from '../lint/format';
import { loadLinter } from '../lint/load';
import type { FileLintResult } from '../lint/types';
import type { Settings } from '../settings/settings';
import type { Cleanups } from '../util/cleanups';
import { messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { relaxForLocalDatabase } from './lint-policy';
import { createMigrationApplier, type LintFiles } from './watch-apply';

export type { LintFiles } from './watch-apply';

/** The part of gulp's watcher (chokidar 3's FSWatcher) the task uses. */
export interface MigrationWatcher {
  on(event: 'add' | 'change', listener: (file: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  close(): Promise<void> | void;
}

/** What the watcher is started with: gulp's `watch()` options (glob-watcher), as far as they are used here. */
export interface WatcherOptions {
  delay: number;
  ignoreInitial: boolean;
  events: string[];
  depth: number;
}

/** `watch` from gulp (glob-watcher), or a stand-in with its shape. */
export type WatchFunction = (globs: string, options: WatcherOptions) => MigrationWatcher;

export interface WatchMigrationsOptions {
  /** The folder (source), and with --apply the database to keep in step (connection, ledger, run). */
  settings: Pick<Settings, 'source' | 'connection' | 'ledger' | 'run' | 'command'>;
  /** With --apply: the URL of the kept database. */
  url: string;
  logger: Logger;
  /** Starts watching: gulp's `watch()`. */
  watch: WatchFunction;
  /** Where the watcher registers its closing, so a signal's cleanup closes it and the run ends. */
  cleanups: Cleanups;
  /** Stops watching when aborted: resolves once the file in hand is done. Default: only the cleanups stop it. */
  signal?: AbortSignal;
  /** The linter. Default: `lintMigrationFiles` of tasks/lint, loaded when the watch starts. */
  lint?: LintFiles;
  /** ANSI colours in the findings. */
  color: boolean;
}

/**
 * `gulp watch`: lints each migration file when it is added or saved (only that file, plus the folder-level checks that
 * involve it), one line when it is clean, its findings otherwise. A broken or half-written file is a finding, never the
 * end of the watcher. With `--apply` it also applies each new migration that passes lint to the database at `url`; a
 * change to the newest applied migration re-runs it (down, then up). Resolves when the watcher is closed.
 */
export async function watchMigrations({ settings, url, logger, watch, cleanups, signal, lint, color }: WatchMigrationsOptions): Promise<void> {
  const { source } = settings;
  const lintFiles = lint ?? uncached(loadLinter().lintMigrationFiles);
  const dir = source.migrationsDir;
  const folderName = `${path.relative(source.projectDir, dir) || dir}/`;
  const report = (result: FileLintResult, ms: number) => {
    const { level, text } = formatWatchResult(result, ms, { projectDir: source.projectDir, color });
    logger[level](text);
  };
  const applier = settings.command.apply ? createMigrationApplier({ settings, url, logger, lint: lintFiles, report }) : undefined;

  // Files there when the watch started. The others are new, however often saved, for the out-of-order rule: a new
  // file older than the newest of these is reported (files created meanwhile are not held against each other).
  const existing = new Set(readdirSync(dir));
  const newFiles = () =>
    readdirSync(dir)
      .filter((name) => !existing.has(name))
      .sort()
      .map((name) => path.join(dir, name));
  /** The text each file's last printed verdict is about, and the look taken again once chokidar's window has passed. */
  const verdicts = new Map<string, string>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  const recheckLater = (file: string) => {
    clearTimeout(rechecks.get(file));
    rechecks.set(
      file,
      setTimeout(() => {
        rechecks.delete(file);
        const text = readText(file);
        if (text !== undefined && text !== verdicts.get(file)) queue.push(file);
      }, RECHECK_MS).unref(),
    );
  };
  const queue = new FileQueue(
    async (file) => {
      const before = readText(file);
      if (before === undefined) return; // An editor's temporary file, gone before its turn.
      const started = performance.now();
      const results = await lintFiles([file], { migrationsDir: dir, projectDir: source.projectDir, newFiles: newFiles() });
      const ms = Math.round(performance.now() - started);
      // Saved again while it was linted: this verdict may be about the old text, or a mix of both (the compiler read
      // one, the loader the other). Lint the text on disk now instead; only a verdict on the final text is printed.
      const after = readText(file);
      if (after !== before) {
        if (after !== undefined) queue.push(file);
        return;
      }
      verdicts.set(file, before);
      // chokidar 3 drops a second change of one file within 50 ms (save, then format-on-save): look once more after.
      recheckLater(file);
      // The file's result, then one for .pgmt-lint.json when the config file itself has problems.
      const [linted = { file, diagnostics: [] }, ...others] = results;
      // With --apply the database is local: lock-safety findings are warnings there, as in migrate:local.
      const result = applier ? relaxForLocalDatabase(linted) : linted;
      report(result, ms);
      for (const other of others) if (other.diagnostics.length > 0) report(other, ms);
      if (!applier) return;
      if (result.diagnostics.some((diagnostic) => diagnostic.severity === 'error')) {
        logger.warn(`Not applied: ${path.basename(file)} has lint errors (above): fix it and save it`);
      } else {
        await applier.afterPassingLint(file);
      }
    },
    (file, error) => logger.error(`✗ ${path.basename(file)}: could not be linted: ${messageOf(error)}\n  (still watching: save the file again to retry)`),
  );

  const watcher = watch(dir, { delay: 0, ignoreInitial: true, events: ['add', 'change'], depth: 0 });
  const onFile = (file: string) => {
    const absolute = path.resolve(dir, file);
    // node-pg-migrate skips dotfiles (editors' swap files) and reads no subfolder.
    if (path.dirname(absolute) !== dir || path.basename(absolute).startsWith('.')) return;
    queue.push(absolute);
  };
  watcher.on('add', onFile);
  watcher.on('change', onFile);
  watcher.on('error', (error) => logger.error(`The file watcher reported a problem: ${messageOf(error)} (still watching)`));

  let stopped!: () => void;
  const stop = new Promise<void>((resolve) => (stopped = resolve));
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      queue.stop();
      for (const timer of rechecks.values()) clearTimeout(timer);
      try {
        await watcher.close();
        logger.info(`Stopped watching ${folderName}`);
      } catch (error) {
        logger.warn(`Stopped watching ${folderName} (closing the file watcher failed: ${messageOf(error)})`);
      } finally {
        stopped();
      }
    })());
  const unregister = cleanups.add('watcher', close);
  const onAbort = () => void close();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();

  try {
    await Promise.race([new Promise<void>((resolve) => watcher.on('ready', resolve)), stop]);
    if (!closing) {
      // Saves made meanwhile wait in the queue and are handled right after.
      await queue.run(async () => {
        await warmUp(lintFiles, source.migrationsDir, source.projectDir);
        const applying = applier ? ', and applied to the database when it passes (a change to the newest applied one re-runs it)' : '';
        logger.info(`Watching ${folderName} for new and changed migrations: each is linted when saved${applying}. Ctrl-C stops.`);
        await applier?.applyPending();
      });
    }
    await stop;
    await queue.idle();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    unregister();
  }
}

/** How long after a verdict the file is read again: past chokidar 3's 50 ms window for a second change of one file. */
const RECHECK_MS = 150;

/** The file's text, or undefined when it is gone (or unreadable: the watcher then has nothing to say about it). */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Lints the newest migration once, unseen, so the first save does not pay for loading the compiler and the parser.
 * A failure here is not reported: the file is reported when it is saved.
 */
async function warmUp(lint: LintFiles, migrationsDir: string, projectDir: string): Promise<void> {
  const newest = readdirSync(migrationsDir)
    .filter((name) => /^\d/.test(name))
    .sort()
    .at(-1);
  if (!newest) return;
  await lint([path.join(migrationsDir, newest)], { migrationsDir, projectDir, newFiles: [] }).catch(() => undefined);
}

/**
 * The linter without its on-disk cache: every file the watcher lints has just changed, its compiler stays loaded between
 * saves, and the warm-up must load it (a cache hit would not).
 */
function uncached(lintFiles: LintFiles): LintFiles {
  return (files, options) => lintFiles(files, { ...options, cache: false });
}

/** `✓ 1732…_x.ts: no problems (12 ms)`, or a headline with the counts and the findings, one line each with a hint. */
export function formatWatchResult(
  result: FileLintResult,
  ms: number,
  { projectDir, color = false }: { projectDir: string; color?: boolean },
): { level: 'info' | 'warn' | 'error'; text: string } {
  const paint = painter(color);
  const name = path.basename(result.file);
  if (result.diagnostics.length === 0) return { level: 'info', text: `${paint.ok('✓')} ${name}: no problems (${ms} ms)` };
  const { errors, warnings, infos } = countFindings([result]);
  const counts = [errors && plural(errors, 'error'), warnings && plural(warnings, 'warning'), infos && `${infos} info`].filter(Boolean).join(', ');
  const level = errors > 0 ? 'error' : warnings > 0 ? 'warn' : 'info';
  const mark = errors > 0 ? paint.error('✗') : warnings > 0 ? paint.warning('⚠') : paint.info('ℹ');
  // formatFile's first line names the file: the headline does that here.
  const findings = formatFile(result, { projectDir, color }).slice(1);
  return { level, text: [`${mark} ${name}: ${counts} (${ms} ms)`, ...findings].join('\n') };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Files waiting to be handled, one at a time, in the order first seen. A file already waiting is not queued twice, so
 * the saves of a file while it is being handled coalesce into one more run. A failure is reported and the queue goes on.
 */
class FileQueue {
  readonly #waiting = new Set<string>();
  #running?: Promise<void>;
  #stopped = false;

  constructor(
    private readonly handle: (file: string) => Promise<void>,
    private readonly onError: (file: string, error: unknown) => void,
  ) {}

  push(file: string): void {
    if (this.#stopped) return;
    this.#waiting.add(file);
    this.#drain();
  }

  /** Runs `work` (start-up) before any file, holding the files that arrive meanwhile. */
  async run(work: () => Promise<void>): Promise<void> {
    await this.idle();
    this.#running = work().finally(() => {
      this.#running = undefined;
      this.#drain();
    });
    await this.#running;
  }

  /** Resolves when nothing is running (the files still waiting are dropped after stop()). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running.catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
  }

  #drain(): void {
    if (this.#running || this.#stopped) return;
    const [file] = this.#waiting;
    if (file === undefined) return;
    this.#waiting.delete(file);
    this.#running = this.handle(file)
      .catch((error: unknown) => this.onError(file, error))
      .finally(() => {
        this.#running = undefined;
        this.#drain();
      });
  }
}
