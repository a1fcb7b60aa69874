// node-pg-migrate's ledger (`<schema>.<table>(id, name, run_on)`) and our checksum table beside it: the only module
// that reads them. The runner writes the ledger; checksums.ts writes the checksum table.
import type { Client } from 'pg';
import { parseDatabaseUrl, type ConnectionParts, type LedgerSettings } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import { classifyConnectionError } from './connection-errors';
import { withClient } from './pg-client';

/** Our side table beside node-pg-migrate's ledger; the ledger itself is never written by us. */
export const CHECKSUM_TABLE = 'pgmt_migration_checksums';

/** An applied migration as the ledger records it, oldest first. */
export interface LedgerEntry {
  name: string;
  /** When it was applied, ISO 8601 in UTC. */
  runOn: string;
  /**
   * The checksum recorded when it was applied, if any. A checksum recorded before the migration's current `run_on`
   * belongs to an earlier application (rolled back and applied again outside these tasks) and counts as none.
   */
  recorded?: string;
}

type Quoting = Pick<Client, 'escapeIdentifier'>;

/** `"public"."pgmigrations"` (or MIGRATIONS_TABLE), quoted for SQL. */
export function ledgerTableName(client: Quoting, ledger: LedgerSettings): string {
  return `${client.escapeIdentifier(ledger.schema)}.${client.escapeIdentifier(ledger.table)}`;
}

/** `"public"."pgmt_migration_checksums"`, in the ledger's schema, quoted for SQL. */
export function checksumTableName(client: Quoting, ledger: LedgerSettings): string {
  return `${client.escapeIdentifier(ledger.schema)}.${client.escapeIdentifier(CHECKSUM_TABLE)}`;
}

/** `public.pgmigrations`, for messages. */
export function ledgerLabel(ledger: LedgerSettings): string {
  return `${ledger.schema}.${ledger.table}`;
}

/**
 * The ledger in the runner's order (`ORDER BY run_on, id`) with the recorded checksums; undefined when the ledger table
 * does not exist yet. SELECTs only: nothing is created. Failures are TaskErrors saying what to check.
 * @example const entries = (await readLedger(client, settings.ledger)) ?? [];
 */
export async function readLedger(client: Client, ledger: LedgerSettings): Promise<LedgerEntry[] | undefined> {
  const table = ledgerTableName(client, ledger);
  const checksums = checksumTableName(client, ledger);
  try {
    const {
      rows: [found],
    } = await client.query<{ ledger: boolean; checksums: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ledger, to_regclass($2) IS NOT NULL AS checksums', [
      table,
      checksums,
    ]);
    if (!found?.ledger) return undefined;
    const recorded = found.checksums ? 'CASE WHEN c.recorded_at >= l.run_on THEN c.sha256 END' : 'NULL::text';
    const join = found.checksums ? `LEFT JOIN ${checksums} c ON c.name = l.name` : '';
    const { rows } = await client.query<{ name: string; run_on: string; recorded: string | null }>(
      `SELECT l.name, to_char(l.run_on::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS run_on, ${recorded} AS recorded
       FROM ${table} l ${join} ORDER BY l.run_on, l.id`,
    );
    return rows.map((row) => ({ name: row.name, runOn: row.run_on, ...(row.recorded === null ? {} : { recorded: row.recorded }) }));
  } catch (error) {
    throw ledgerReadError(error, ledger);
  }
}

/**
 * The names the ledger lists as applied, oldest first, read on a connection of its own in a read-only transaction;
 * undefined when the ledger table does not exist yet. A connection failure is explained as waitDb explains it.
 * @example const applied = (await readAppliedNames(url, settings.ledger)) ?? [];
 */
export async function readAppliedNames(url: string, ledger: LedgerSettings, target?: ConnectionParts): Promise<string[] | undefined> {
  try {
    return await withClient(url, async (client) => {
      await client.query('BEGIN TRANSACTION READ ONLY');
      try {
        return await readLedgerNames(client, ledger);
      } finally {
        await client.query('COMMIT');
      }
    });
  } catch (error) {
    throw ledgerReadError(error, ledger, target ?? parseDatabaseUrl(url, []));
  }
}

/** The names alone, oldest first; undefined when the ledger table does not exist. Two plain SELECTs. */
async function readLedgerNames(client: Client, ledger: LedgerSettings): Promise<string[] | undefined> {
  const table = ledgerTableName(client, ledger);
  const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  if (!rows[0]?.exists) return undefined;
  const names = await client.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY run_on, id`);
  return names.rows.map((row) => row.name);
}

/** How many migrations the ledger lists (0 when it does not exist). */
export async function countApplied(client: Client, ledger: LedgerSettings): Promise<number> {
  return (await readLedger(client, ledger))?.length ?? 0;
}

/**
 * The one wording of a failed ledger read: a connection failure as waitDb words it; a role that may not read it (with
 * the GRANT that fixes it); anything else, what to check. A TaskError passes through.
 */
export function ledgerReadError(error: unknown, ledger: LedgerSettings, target?: ConnectionParts): TaskError {
  if (error instanceof TaskError) return error;
  const code = (error as { code?: string }).code;
  if (target && typeof (error as { severity?: unknown }).severity !== 'string') {
    const failure = classifyConnectionError(error, target);
    if (failure.kind !== 'other') return new TaskError(failure.message, { hint: failure.hint, cause: error });
  }
  const label = ledgerLabel(ledger);
  const hint =
    code === '42501'
      ? `the ledger belongs to another role (a run with DB_MIGRATE_AS=superuser creates it as the superuser): run with the same DB_MIGRATE_AS, or let this role use it (GRANT ALL ON ${label}, ${ledger.schema}.${CHECKSUM_TABLE} TO …)`
      : 'check that MIGRATIONS_TABLE names the table node-pg-migrate writes and that the role may read it, then run the command again';
  return new TaskError(`could not read node-pg-migrate's ledger ${label}: ${messageOf(error)}`, { hint, cause: error });
}
