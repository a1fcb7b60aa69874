import type { Settings } from '../settings/settings';

/**
 * The settings a migration run reads: where the files are (source), where the ledger is (ledger), how to run (run)
 * and as whom (connection, for messages and DB_MIGRATE_AS). The URL to run against is passed beside it.
 */
export type MigrationSettings = Pick<Settings, 'connection' | 'source' | 'ledger' | 'run'>;
