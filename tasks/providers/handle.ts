import { readFile } from 'node:fs/promises';
import type { KeptDatabaseState } from '../settings/kept-state';
import type { StartedDatabase } from './types';

/**
 * The handle every starting provider returns: its recorded state, and a stop that runs once however often called;
 * with `logFile`, the server's own log can be read until the stop removes it.
 */
export function databaseHandle(state: KeptDatabaseState, description: string, stopAndRemove: () => Promise<void>, logFile?: string): StartedDatabase {
  let stopped: Promise<void> | undefined;
  return {
    provider: state.provider,
    url: state.url,
    superuserUrl: state.superuserUrl,
    description,
    keptState: state,
    stop: () => (stopped ??= stopAndRemove()),
    ...(logFile !== undefined && {
      logTail: async (lines = 20) => {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        // Entries only: a statement the log quotes (a whole batch of migrations, continued on tab-indented lines) would
        // crowd out the lines that say what happened.
        const entries = text
          .trimEnd()
          .split('\n')
          .filter((line) => line !== '' && !/^\s/.test(line))
          .map((line) => (line.length > 300 ? `${line.slice(0, 300)} …` : line));
        const tail = entries.slice(-lines).join('\n');
        return tail === '' ? undefined : tail;
      },
    }),
  };
}
