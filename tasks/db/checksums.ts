import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Client } from 'pg';
import type { Direction, LedgerSettings } from '../settings/settings';
import { messageOf } from '../util/errors';
import { checksumTableName } from './ledger';
import { withClient } from './pg-client';

/** A migration a run applied or rolled back: its ledger name and its file. */
export interface RanMigration {
  name: string;
  path: string;
}

const CRLF = Buffer.from('\r\n');

/**
 * sha256 (hex) of a migration file's bytes, with CRLF line ends read as LF so that a Windows checkout (git's
 * core.autocrlf) is not reported as an edit.
 * @example hashMigrationContent(await readFile(file)) // '9f86d0…'
 */
export function hashMigrationContent(content: Buffer | string): string {
  let bytes = typeof content === 'string' ? Buffer.from(content) : content;
  // latin1 maps every byte to one char and back, so only the CR LF pairs change.
  if (bytes.includes(CRLF)) bytes = Buffer.from(bytes.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
  return createHash('sha256').update(bytes).digest('hex');
}

/** {@link hashMigrationContent} of a file. */
export async function hashMigrationFile(file: string): Promise<string> {
  return hashMigrationContent(await readFile(file));
}

/**
 * {@link hashMigrationContent} of a file, read synchronously: for thousands of small files a loop of readFileSync takes
 * ~50 ms per 10 000 files here, concurrent readFile ~600 ms (thread pool and promise overhead).
 */
export function hashMigrationFileSync(file: string): string {
  return hashMigrationContent(readFileSync(file));
}

/**
 * Keeps the checksum table in step with a run: after an `up`, upserts the hash of each migration that ran (creating
 * the table when missing); after a `down`, deletes their rows (and creates nothing).
 * @example await recordChecksums(url, config, ran, 'up')
 */
export async function recordChecksums(url: string, ledger: LedgerSettings, ran: readonly RanMigration[], direction: Direction): Promise<void> {
  if (ran.length === 0) return;
  await withClient(url, (client) => recordChecksumsWith(client, ledger, ran, direction));
}

/** {@link recordChecksums} on a connection the caller has (the runner's, once it has committed: no new login). */
export async function recordChecksumsWith(client: Client, ledger: LedgerSettings, ran: readonly RanMigration[], direction: Direction): Promise<void> {
  if (ran.length === 0) return;
  const names = ran.map((migration) => migration.name);
  if (direction === 'down') {
    const table = checksumTableName(client, ledger);
    const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
    if (rows[0]?.exists) await client.query(`DELETE FROM ${table} WHERE name = ANY($1::text[])`, [names]);
    return;
  }
  const hashes = await Promise.all(ran.map((migration) => hashMigrationFile(migration.path)));
  await upsertChecksums(client, ledger, names, hashes);
}

/** Creates the checksum table if needed and records `hashes[i]` for `names[i]`, now. Used by runs and by --accept. */
export async function upsertChecksums(client: Client, ledger: LedgerSettings, names: readonly string[], hashes: readonly string[]): Promise<void> {
  const table = checksumTableName(client, ledger);
  await client.query(createChecksumTableSql(table));
  await client.query(
    `INSERT INTO ${table} (name, sha256)
     SELECT * FROM unnest($1::text[], $2::text[])
     ${ON_CONFLICT}`,
    [names, hashes],
  );
}

const ON_CONFLICT = 'ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, recorded_at = now()';

/** The statement that creates the checksum table `table` (quoted) when it is missing. */
export function createChecksumTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, sha256 text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`;
}

/**
 * One statement that records checksums in `table` (quoted), with the values as literals: to be sent with other
 * statements in one round trip (a multi-statement query takes no parameters). `quote` makes a literal (pg's escapeLiteral).
 */
export function upsertChecksumsSql(table: string, rows: readonly { name: string; sha256: string }[], quote: (value: string) => string): string {
  const values = rows.map(({ name, sha256 }) => `(${quote(name)}, ${quote(sha256)})`).join(', ');
  return `INSERT INTO ${table} (name, sha256) VALUES ${values} ${ON_CONFLICT}`;
}

/** The warning when a run succeeded but its checksums could not be written: the migrations did run. */
export function describeChecksumFailure(error: unknown): string {
  return (
    `The migrations ran, but their checksums could not be recorded (${messageOf(error)}): ` +
    '`gulp migrate:status` shows them as "no checksum"; once that is fixed, check them and run `gulp migrate:status --accept`'
  );
}
