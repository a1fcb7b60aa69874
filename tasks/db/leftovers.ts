import type { Client } from 'pg';
import type { Direction, LedgerSettings } from '../settings/settings';
import { readLedger } from './ledger';

/** What a failed run left in the database, looked at afresh (see explainMigrationFailure's `leftovers`). */
export interface RunLeftovers {
  /** Migrations of the run the ledger records as done (up: applied; down: rolled back) despite the failure. */
  committed: string[];
  /** INVALID indexes (a failed CREATE INDEX CONCURRENTLY), schema-qualified and quoted as DROP INDEX needs them. */
  invalidIndexes: string[];
}

/**
 * Looks at the database after a failed run, on a session of its own: which of the run's planned migrations its ledger
 * now records as done, and which indexes are INVALID. A failure message then says what really stayed instead of
 * claiming a rollback (a `pgm.noTransaction()` migration, or a COMMIT inside one, commits behind the run's back).
 * @example const leftovers = await withClient(url, (client) => readRunLeftovers(client, settings.ledger, planned, 'up'));
 */
export async function readRunLeftovers(client: Client, ledger: LedgerSettings, planned: readonly string[], direction: Direction): Promise<RunLeftovers> {
  const applied = new Set(((await readLedger(client, ledger)) ?? []).map((entry) => entry.name));
  const committed = planned.filter((name) => (direction === 'up' ? applied.has(name) : !applied.has(name)));
  const { rows } = await client.query<{ name: string }>(
    "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
  );
  return { committed, invalidIndexes: rows.map((row) => row.name) };
}
