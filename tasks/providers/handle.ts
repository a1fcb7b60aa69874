import type { KeptDatabaseState } from '../settings/kept-state';
import type { StartedDatabase } from './types';

/** The handle every starting provider returns: its recorded state, and a stop that runs once however often called. */
export function databaseHandle(state: KeptDatabaseState, description: string, stopAndRemove: () => Promise<void>): StartedDatabase {
  let stopped: Promise<void> | undefined;
  return {
    provider: state.provider,
    url: state.url,
    superuserUrl: state.superuserUrl,
    description,
    keptState: state,
    stop: () => (stopped ??= stopAndRemove()),
  };
}
