// The resources of one bench run: its temp folder inside the repository, the shared server, the PostgreSQL binaries,
// the gulp task list; and their release at the end, after a failure, or on Ctrl-C.
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Cleanups } from '../../tasks/util/cleanups';
import { messageOf } from '../../tasks/util/errors';
import { startTestServer, type TestServer } from '../../test/support/database';
import { NotAvailable, type BenchRun } from './case';
import { findPgTools, type PgTools } from './postgres';
import { expectRun, REPO_ROOT, runGulp, stopRunningProcesses } from './processes';

/**
 * Inside the repository (git-ignored), not in /tmp: gulp-cli resolves gulp and finds .gulp.js (the TypeScript loader)
 * from the project folder, as in a user's project.
 */
export const BENCH_TMP = path.join(REPO_ROOT, '.bench-tmp');

export interface Workspace {
  bench: BenchRun;
  /** Stops children and the server, removes every folder; idempotent. */
  close(): Promise<void>;
  /** Whether close() has been called (after Ctrl-C: the run stops, whatever the case in hand reports). */
  closing(): boolean;
}

export function createWorkspace({ pairs, log }: { pairs: number; log: (message: string) => void }): Workspace {
  mkdirSync(BENCH_TMP, { recursive: true });
  const root = mkdtempSync(path.join(BENCH_TMP, 'run-'));
  const cleanups = new Cleanups();
  let server: Promise<TestServer> | undefined;
  let postgres: Promise<PgTools> | undefined;
  let tasks: Promise<string[]> | undefined;
  let closed: Promise<void> | undefined;

  const bench: BenchRun = {
    pairs,
    log,
    tempDir: (name) => mkdtempSync(path.join(root, `${name}-`)),
    onCleanup: (name, cleanup) => cleanups.add(name, cleanup),
    server() {
      if (closed) return Promise.reject(new Error('the bench is stopping'));
      server ??= (async () => {
        await bench.postgres();
        log('starting the shared embedded PostgreSQL server');
        const started = await startTestServer();
        cleanups.add('shared server', () => started.stop());
        return started;
      })();
      return server;
    },
    postgres() {
      postgres ??= findPgTools().catch((error: unknown) => {
        throw new NotAvailable(`no PostgreSQL binaries (${messageOf(error).split('\n')[0]})`);
      });
      return postgres;
    },
    gulpTasks() {
      tasks ??= runGulp(['--tasks-simple'], { cwd: REPO_ROOT }).then((result) =>
        expectRun(result, '`gulp --tasks-simple`')
          .output.split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      );
      return tasks;
    },
  };

  return {
    bench,
    closing: () => closed !== undefined,
    close() {
      closed ??= (async () => {
        await stopRunningProcesses();
        // The server may still be starting: wait for it so its cleanup is registered before runAll.
        await server?.catch(() => undefined);
        try {
          await cleanups.runAll();
        } finally {
          rmSync(root, { recursive: true, force: true });
          try {
            rmdirSync(BENCH_TMP);
          } catch {
            // Another bench run (or a leftover) still uses it.
          }
        }
      })();
      return closed;
    },
  };
}

/**
 * On Ctrl-C / SIGTERM / SIGHUP: closes the workspace (children get SIGINT and clean up after themselves, the server
 * stops, folders go), then ends the process by the signal. A second signal is ignored while that runs.
 */
export function closeOnSignals(workspace: Workspace, log: (message: string) => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return log(`Received ${signal} again: still cleaning up, one moment`);
    closing = true;
    log(`Received ${signal}: stopping the bench's processes and server, removing its files`);
    workspace
      .close()
      .catch((error: unknown) => log(`Cleanup failed: ${messageOf(error)}`))
      .finally(() => {
        for (const name of signals) process.removeAllListeners(name);
        process.kill(process.pid, signal);
      });
  };
  for (const name of signals) process.on(name, onSignal);
  return () => {
    for (const name of signals) process.off(name, onSignal);
  };
}
