import { LEDGER_SCHEMA } from './checksums';
import type { Config } from '../settings/config';
import { TaskError, messageOf } from '../util/errors';
import { withClient } from './pg-client';

/**
 * The names node-pg-migrate's ledger lists as applied, read with plain SELECTs in a read-only transaction; undefined
 * when the ledger table does not exist yet (nothing is created).
 */
export async function readAppliedNames(url: string, config: Pick<Config, 'migrationsTable'>): Promise<string[] | undefined> {
  return readLedger(url, config).catch((error: unknown) => {
    throw new TaskError(`could not read node-pg-migrate's ledger ${LEDGER_SCHEMA}.${config.migrationsTable}: ${messageOf(error)}`, {
      hint:
        (error as { code?: string }).code === '42501'
          ? `the ledger belongs to another role (a run with DB_MIGRATE_AS=superuser creates it as the superuser): run with the same DB_MIGRATE_AS, or let this role use it (GRANT ALL ON ${LEDGER_SCHEMA}.${config.migrationsTable}, ${LEDGER_SCHEMA}.pgmt_migration_checksums TO …)`
          : 'check that MIGRATIONS_TABLE names the table node-pg-migrate writes and that the role may read it, then run the command again',
      cause: error,
    });
  });
}

async function readLedger(url: string, config: Pick<Config, 'migrationsTable'>): Promise<string[] | undefined> {
  return withClient(url, async (client) => {
    await client.query('BEGIN TRANSACTION READ ONLY');
    try {
      const table = `${client.escapeIdentifier(LEDGER_SCHEMA)}.${client.escapeIdentifier(config.migrationsTable)}`;
      const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
      if (!rows[0]?.exists) return undefined;
      const ledger = await client.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY run_on, id`);
      return ledger.rows.map((row) => row.name);
    } finally {
      await client.query('COMMIT');
    }
  });
}
