import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WatchOptions } from 'gulp';
import type { Diagnostic, FileLintResult } from '../../tasks/lint/types';
import { formatWatchResult, type LintFiles, type MigrationWatcher } from '../../tasks/gulp/steps/watch';
import { createTestProject, type TestProject } from '../support/project';
import { startWatch, type WatchRun } from '../support/watch';

/** Stands in for gulp's watcher: the test emits its events. */
class FakeWatcher extends EventEmitter implements MigrationWatcher {
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }
}

interface LintCall {
  files: string[];
  newFiles?: string[];
}

describe('watch (a fake watcher and linter)', () => {
  let project: TestProject;
  let watcher: FakeWatcher;
  let watched: { globs: string; options: WatchOptions } | undefined;
  let calls: LintCall[];
  /** What the fake linter answers; the default finds nothing. */
  let answer: (file: string) => Promise<Diagnostic[]>;
  let run: WatchRun | undefined;

  const lint: LintFiles = async (files, options) => {
    calls.push({ files: files.map((file) => path.basename(file)), newFiles: options.newFiles?.map((file) => path.basename(file)) });
    const results: FileLintResult[] = [];
    for (const file of files) results.push({ file, diagnostics: await answer(file) });
    return results;
  };
  const migration = (name: string) => path.join(project.migrationsDir, name);
  const save = (name: string, event: 'add' | 'change' = 'change') => {
    writeFileSync(migration(name), 'export async function up() {}\n');
    watcher.emit(event, migration(name));
  };

  /** Starts the task and waits until it says it is watching; the warm-up lint is forgotten. */
  async function start(): Promise<WatchRun> {
    run = startWatch({
      cwd: project.dir,
      lint,
      watch: (globs, options) => {
        watched = { globs, options };
        return watcher;
      },
    });
    await until(() => watched !== undefined);
    watcher.emit('ready');
    await run.waitFor(/^info: Watching migrations\//);
    calls = [];
    return run;
  }
  const infoLines = () => run!.lines().map((line) => line.replace(/\(\d+ ms\)/g, '(N ms)'));

  beforeEach(() => {
    project = createTestProject();
    mkdirSync(project.migrationsDir);
    writeFileSync(migration('1732500000000_existing.ts'), 'export async function up() {}\n');
    watcher = new FakeWatcher();
    watched = undefined;
    calls = [];
    answer = async () => [];
  });
  afterEach(async () => {
    await run?.stop();
    run = undefined;
    project.remove();
  });

  it('watches the migrations folder through gulp with no debounce and no initial events, and says so once ready', async () => {
    run = startWatch({ cwd: project.dir, lint, watch: (globs, options) => ((watched = { globs, options }), watcher) });
    await until(() => watched !== undefined);
    expect(watched!.globs).to.equal(project.migrationsDir);
    expect(watched!.options).to.include({ delay: 0, ignoreInitial: true, depth: 0 });
    expect(watched!.options.events).to.deep.equal(['add', 'change']);
    expect(run.lines()).to.deep.equal([]);
    watcher.emit('ready');
    await run.waitFor(/Watching/);
    expect(run.lines()).to.deep.equal(['info: Watching migrations/ for new and changed migrations: each is linted when saved. Ctrl-C stops.']);
    // The warm-up: the newest migration is linted once, unseen, so the first save does not load the linter.
    expect(calls).to.deep.equal([{ files: ['1732500000000_existing.ts'], newFiles: [] }]);
  });

  it('lints only the saved file, passes the files added since the start as new, and prints one line for a clean one', async () => {
    await start();
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
    save('1732500001000_added.ts', 'add');
    await run!.waitFor(/added\.ts: no problems/);
    const seen = run!.lines().length;
    save('1732500001000_added.ts');
    await run!.waitFor(/added\.ts: no problems/, seen);
    save('1732500002000_later.ts', 'add');
    await run!.waitFor(/later\.ts: no problems/);
    save('1732500001000_added.ts');
    await run!.waitFor(/added\.ts: no problems/, seen + 2);
    // Every file created since the start is new (so files created meanwhile are not held against each other).
    expect(calls).to.deep.equal([
      { files: ['1732500000000_existing.ts'], newFiles: [] },
      { files: ['1732500001000_added.ts'], newFiles: ['1732500001000_added.ts'] },
      { files: ['1732500001000_added.ts'], newFiles: ['1732500001000_added.ts'] },
      { files: ['1732500002000_later.ts'], newFiles: ['1732500001000_added.ts', '1732500002000_later.ts'] },
      { files: ['1732500001000_added.ts'], newFiles: ['1732500001000_added.ts', '1732500002000_later.ts'] },
    ]);
    expect(infoLines().slice(1)).to.deep.equal([
      'info: ✓ 1732500000000_existing.ts: no problems (N ms)',
      'info: ✓ 1732500001000_added.ts: no problems (N ms)',
      'info: ✓ 1732500001000_added.ts: no problems (N ms)',
      'info: ✓ 1732500002000_later.ts: no problems (N ms)',
      'info: ✓ 1732500001000_added.ts: no problems (N ms)',
    ]);
  });

  it('prints the findings of a file with problems under a headline that counts them', async () => {
    await start();
    answer = async (file) => [
      {
        ruleId: 'no-down',
        severity: 'warning',
        message: 'no down migration',
        hint: 'export a down, or `export const down = false`',
        file,
        source: 'pg-migrate-tasks',
      },
      {
        ruleId: 'syntax-error',
        severity: 'error',
        message: "TS1005: '}' expected.",
        hint: 'fix the syntax error',
        file,
        line: 3,
        column: 1,
        source: 'pg-migrate-tasks',
      },
    ];
    save('1732500000000_existing.ts');
    const line = await run!.waitFor(/existing\.ts/);
    expect(line.replace(/\(\d+ ms\)/, '(N ms)')).to.equal(
      [
        'error: ✗ 1732500000000_existing.ts: 1 error, 1 warning (N ms)',
        '  -    warning  no down migration  no-down',
        '    hint: export a down, or `export const down = false`',
        "  3:1  error    TS1005: '}' expected.  syntax-error",
        '    hint: fix the syntax error',
      ].join('\n'),
    );
  });

  it('coalesces the saves of a file made while it is being linted into one more lint', async () => {
    await start();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    answer = async (file) => {
      if (file.endsWith('existing.ts') && calls.length === 1) await held;
      return [];
    };
    save('1732500000000_existing.ts');
    await until(() => calls.length === 1);
    save('1732500000000_existing.ts');
    save('1732500001000_other.ts', 'add');
    save('1732500000000_existing.ts');
    save('1732500000000_existing.ts');
    release();
    await run!.waitFor(/other\.ts: no problems/);
    expect(calls.map((call) => call.files[0])).to.deep.equal(['1732500000000_existing.ts', '1732500000000_existing.ts', '1732500001000_other.ts']);
  });

  const finding: Diagnostic = { severity: 'error', ruleId: 'syntax-error', message: 'broken', hint: 'fix it', file: '', source: 'pg-migrate-tasks' };

  it('a file saved again while it is linted (the event lost): no verdict on the old text, one on the final text', async () => {
    await start();
    answer = async (file) => {
      if (calls.length > 1) return [];
      writeFileSync(file, 'export async function up() { /* saved again, no event */ }\n');
      return [{ ...finding, file }];
    };
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
    expect(calls).to.have.length(2);
    expect(run!.lines().filter((line) => line.includes('existing.ts'))).to.have.length(1);
  });

  it('a change chokidar drops just after a verdict (two saves within 50 ms) is seen when the file is read again', async () => {
    await start();
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
    answer = async (file) => [{ ...finding, file }];
    writeFileSync(migration('1732500000000_existing.ts'), 'export async function up() { broken\n');
    expect(await run!.waitFor(/existing\.ts: 1 error/)).to.match(/^error: ✗ 1732500000000_existing\.ts: 1 error/);
  });

  it('reports a linter failure as a line and keeps handling saves', async () => {
    await start();
    answer = async () => {
      throw new Error('the parser ran out of memory');
    };
    save('1732500000000_existing.ts');
    const line = await run!.waitFor(/existing\.ts/);
    expect(line).to.equal(
      'error: ✗ 1732500000000_existing.ts: could not be linted: the parser ran out of memory\n  (still watching: save the file again to retry)',
    );
    answer = async () => [];
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
  });

  it('ignores dotfiles and subfolders (node-pg-migrate does), and a file gone before its turn', async () => {
    await start();
    save('.1732500001000_swap.ts.swp', 'add');
    mkdirSync(migration('nested'));
    writeFileSync(migration('nested/1732500002000_inner.ts'), '');
    watcher.emit('add', migration('nested/1732500002000_inner.ts'));
    watcher.emit('add', migration('1732500003000_gone.ts')); // An editor's temporary file, removed since.
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
    expect(calls.map((call) => call.files[0])).to.deep.equal(['1732500000000_existing.ts']);
  });

  it('a watcher error is reported and the watching goes on', async () => {
    await start();
    watcher.emit('error', new Error('ENOSPC: System limit for number of file watchers reached'));
    save('1732500000000_existing.ts');
    await run!.waitFor(/existing\.ts: no problems/);
    expect(run!.lines()[1]).to.equal('error: The file watcher reported a problem: ENOSPC: System limit for number of file watchers reached (still watching)');
  });

  it('stopping closes the watcher, says so, and ends the task; a later save is not handled', async () => {
    await start();
    await run!.stop();
    expect(watcher.closed).to.equal(true);
    expect(run!.lines().at(-1)).to.equal('info: Stopped watching migrations/');
    save('1732500000000_existing.ts');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).to.deep.equal([]);
  });

  it('registers the watcher in ctx.cleanups, so the Ctrl-C handler (which runs them) closes it and the task ends', async () => {
    await start();
    expect(run!.ctx.cleanups.size).to.equal(1);
    await run!.ctx.cleanups.runAll();
    await run!.done;
    expect(watcher.closed).to.equal(true);
    expect(run!.lines().at(-1)).to.equal('info: Stopped watching migrations/');
  });
});

describe('formatWatchResult', () => {
  it('is one line for a clean file, named by its file name', () => {
    expect(formatWatchResult({ file: '/p/migrations/1732500000000_x.ts', diagnostics: [] }, 12, { projectDir: '/p' })).to.deep.equal({
      level: 'info',
      text: '✓ 1732500000000_x.ts: no problems (12 ms)',
    });
  });

  it('is an info line when every finding is info', () => {
    const file = '/p/migrations/1732500000000_x.ts';
    const result = formatWatchResult(
      {
        file,
        diagnostics: [
          { ruleId: 'prefer-text', severity: 'info', message: 'varchar(40)', hint: 'use text', file, line: 2, column: 7, source: 'pg-migrate-tasks' },
        ],
      },
      3,
      { projectDir: '/p' },
    );
    expect(result).to.deep.equal({ level: 'info', text: 'ℹ 1732500000000_x.ts: 1 info (3 ms)\n  2:7  info  varchar(40)  prefer-text\n    hint: use text' });
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; !condition(); tries += 1) {
    if (tries > 2_000) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
