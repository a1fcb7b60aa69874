// migrate:baseline: adopt a database whose schema another tool or a person made, by recording the migrations that
// produce its schema as applied, without running them.
import path from 'node:path';
import { hashMigrationFile, upsertChecksums } from '../db/checksums';
import { ledgerLabel, ledgerTableName, readAppliedNames, readLedger } from '../db/ledger';
import { withClient } from '../db/pg-client';
import type { MigrationFile } from '../sources/migration-folder';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { compareWithMigrations, describeDifference, ledgerPosition } from './live-schema';
import type { MigrationSettings } from './types';

/** node-pg-migrate's advisory lock id (its PG_MIGRATE_LOCK_ID): a baseline never races a migrate run. */
const MIGRATE_LOCK_ID = 7241865325823964;

export interface BaselineOptions {
  settings: MigrationSettings;
  /** The database to adopt. */
  liveUrl: string;
  /** An empty throw-away database to migrate for the comparison. */
  throwAwayUrl: string;
  /** --to: the last migration the live database already has (name, file name, or the name without its timestamp). */
  to?: string;
  /** --force: record even when the schemas differ. */
  force: boolean;
  /** --accept: record the checksums of what the ledger already lists (a ledger written by node-pg-migrate's CLI). */
  accept: boolean;
  logger: Logger;
}

/**
 * migrate:baseline needs to know what to record: --to NAME, or --accept for a ledger node-pg-migrate already wrote.
 * Checked before any server starts, and again by baselineDatabase for callers without gulp.
 * @example assertBaselineTarget(settings.command.to, settings.command.accept);
 */
export function assertBaselineTarget(to: string | undefined, accept: boolean): void {
  if (to === undefined && !accept) {
    throw new TaskError('migrate:baseline needs --to NAME: the last migration whose schema the database already has', {
      hint: '`gulp migrate:status` lists the migrations; then run `gulp migrate:baseline --to NAME` (or --accept to record the checksums of a ledger node-pg-migrate wrote)',
    });
  }
}

/**
 * Compares the live schema with what the migrations up to `to` produce; when equal (or with `force`), records those
 * migrations in the ledger with their checksums, in one transaction, without running them. Returns the names recorded.
 * @example await baselineDatabase({ settings, liveUrl, throwAwayUrl, to: '1732500004000_create_tags', force: false, accept: false, logger: console });
 */
export async function baselineDatabase({ settings, liveUrl, throwAwayUrl, to, force, accept, logger }: BaselineOptions): Promise<string[]> {
  const applied = (await readAppliedNames(liveUrl, settings.ledger, settings.connection)) ?? [];
  const { files } = await ledgerPosition(settings, applied);
  const folder = `${path.relative(settings.source.projectDir, settings.source.migrationsDir) || '.'}/`;
  assertBaselineTarget(to, accept);
  const last = to === undefined ? applied.length - 1 : findMigration(files, to, folder);
  if (last < applied.length - 1) {
    throw new TaskError(`the live database already has ${applied.length} migrations recorded, past ${files[last]!.name}`, {
      hint: 'name the last recorded one or a later one with --to; `gulp migrate:status` shows what is recorded',
    });
  }
  const { changes } = await compareWithMigrations({ settings, liveUrl, throwAwayUrl, count: last + 1, logger });
  const target = last === -1 ? 'no migration' : `the migrations up to ${files[last]!.name}`;
  if (changes.length > 0) {
    const listed = changes.map((change) => `  ${describeDifference(change)}`);
    if (!force) {
      throw new TaskError(
        [
          `the live database's schema is not what ${target} produce (${changes.length === 1 ? '1 difference' : `${changes.length} differences`}), so nothing was recorded:`,
          ...listed,
        ].join('\n'),
        {
          hint: 'migrate:baseline records migrations only for a schema they produce: pick the --to that matches, or fix the database (or the migrations); `--force` records anyway',
        },
      );
    }
    logger.warn(
      [`--force: recording ${target} although the schema differs in ${changes.length === 1 ? '1 place' : `${changes.length} places`}:`, ...listed].join('\n'),
    );
  }
  const toRecord = files.slice(applied.length, last + 1);
  const toAccept = accept ? files.slice(0, applied.length) : [];
  await record(liveUrl, settings, toRecord, toAccept);
  if (toRecord.length > 0) {
    logger.info(
      `Recorded ${toRecord.length === 1 ? '1 migration' : `${toRecord.length} migrations`} (${toRecord[0]!.name}${toRecord.length > 1 ? ` … ${toRecord.at(-1)!.name}` : ''}) as applied in ${ledgerLabel(settings.ledger)}, with their checksums, without running them${changes.length === 0 ? ': the live schema is what they produce' : ''}`,
    );
  } else if (!accept) {
    logger.info(`Nothing to record: the ledger already lists ${target}`);
  }
  if (accept) logger.info(`Recorded the checksums of the ${toAccept.length === 1 ? 'migration' : `${toAccept.length} migrations`} the ledger already listed`);
  return toRecord.map((file) => file.name);
}

/** The index of the migration `--to` names: its name, its file name, or its name without the timestamp when unique. */
function findMigration(files: readonly MigrationFile[], to: string, folder: string): number {
  const exact = files.findIndex((file) => file.name === to || file.file === to);
  if (exact !== -1) return exact;
  const short = files.flatMap((file, index) => (file.name.replace(/^\d+[_-]/, '') === to ? [index] : []));
  if (short.length === 1) return short[0]!;
  throw new TaskError(
    `--to ${to}: there is no migration of that name in ${folder}${short.length > 1 ? ` (it could be ${short.map((index) => files[index]!.name).join(' or ')})` : ''}`,
    {
      hint: '`gulp migrate:status` lists the migrations with their names',
    },
  );
}

/** One transaction: the ledger table (node-pg-migrate's own layout) if missing, the rows, the checksums. */
async function record(url: string, settings: MigrationSettings, files: readonly MigrationFile[], accepted: readonly MigrationFile[]): Promise<void> {
  if (files.length === 0 && accepted.length === 0) return;
  const hashes = await Promise.all([...files, ...accepted].map((file) => hashMigrationFile(file.path)));
  await withClient(url, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK_ID]);
      const table = ledgerTableName(client, settings.ledger);
      if (settings.ledger.schema !== 'public') await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(settings.ledger.schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`);
      // Another run may have recorded some meanwhile: only what is still missing, in order.
      const present = new Set(((await readLedger(client, settings.ledger)) ?? []).map((entry) => entry.name));
      const missing = files.filter((file) => !present.has(file.name));
      if (missing.length > 0) {
        await client.query(`INSERT INTO ${table} (name, run_on) SELECT name, NOW() FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n) ORDER BY n`, [
          missing.map((file) => file.name),
        ]);
      }
      const all = [...files, ...accepted];
      await upsertChecksums(
        client,
        settings.ledger,
        all.map((file) => file.name),
        hashes,
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
