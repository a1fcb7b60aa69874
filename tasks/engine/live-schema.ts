// Drift and baseline: the schema of a live database compared with a throw-away one migrated to a position in the
// history. The live database is only read here (baseline's recording is in baseline.ts).
import path from 'node:path';
import { readAppliedNames } from '../db/ledger';
import { withClient } from '../db/pg-client';
import { compareSnapshots, type SchemaChange } from '../db/schema-diff';
import type { SchemaSnapshot } from '../db/schema-snapshot';
import { readMigrationFolder, type MigrationFile } from '../sources/migration-folder';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { runMigrations } from './run-migrations';
import { schemaSnapshot } from './schema';
import type { MigrationSettings } from './types';
import { shellArg } from '../util/shell';

/** The schemas of two databases compared: what only the live one has, what it lacks, what differs. */
export interface SchemaComparison {
  /** From the migrations' side (before) to the live database (after). */
  changes: SchemaChange[];
  /** How many migrations the throw-away database was migrated with. */
  migrations: number;
}

/**
 * Migrates the throw-away database at `throwAwayUrl` with the first `count` migrations of the folder (no lint: the
 * files are what they are), quietly.
 */
export async function migrateThrowAway({
  settings,
  throwAwayUrl,
  count,
  logger,
}: {
  settings: MigrationSettings;
  throwAwayUrl: string;
  count: number;
  logger: Logger;
}): Promise<void> {
  if (count === 0) return;
  const quiet: Logger = {
    debug: (message) => logger.debug?.(message),
    info: (message) => logger.debug?.(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
  };
  await runMigrations({ settings, url: throwAwayUrl, direction: 'up', count, logger: quiet });
}

/** A database's schema as drift compares it: without the extensions' versions (a property of the binaries, not of the schema). */
export async function comparableSnapshot(settings: MigrationSettings, url: string): Promise<SchemaSnapshot> {
  const snapshot = await withClient(url, (client) => schemaSnapshot(client, settings.ledger));
  for (const extension of Object.values(snapshot.extensions)) extension.version = '';
  return snapshot;
}

/** Both snapshots, the migrations' first. */
async function snapshots(settings: MigrationSettings, throwAwayUrl: string, liveUrl: string): Promise<[SchemaSnapshot, SchemaSnapshot]> {
  return Promise.all([comparableSnapshot(settings, throwAwayUrl), comparableSnapshot(settings, liveUrl)]);
}

/** The live schema compared with the throw-away database migrated with the first `count` migrations. */
export async function compareWithMigrations({
  settings,
  liveUrl,
  throwAwayUrl,
  count,
  logger,
}: {
  settings: MigrationSettings;
  liveUrl: string;
  throwAwayUrl: string;
  count: number;
  logger: Logger;
}): Promise<SchemaComparison> {
  await migrateThrowAway({ settings, throwAwayUrl, count, logger });
  const [expected, live] = await snapshots(settings, throwAwayUrl, liveUrl);
  return { changes: compareSnapshots(expected, live), migrations: count };
}

/** Each difference as a user reads it: the object, what differs, which side has it. */
export function describeDifference({ change, subject, properties }: SchemaChange): string {
  if (change === 'added') return `+ ${subject}: only in the live database`;
  if (change === 'removed') return `- ${subject}: missing from the live database`;
  return `~ ${subject}: ${properties.map(({ property, before, after }) => `${property} ${before} from the migrations, ${after} in the live database`).join('; ')}`;
}

/** The migrations of the folder, checked against a ledger: the ledger must be the folder's first migrations, in order. */
export async function ledgerPosition(settings: MigrationSettings, applied: readonly string[]): Promise<{ files: MigrationFile[]; count: number }> {
  const { migrations: files } = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
  const folder = `${path.relative(settings.source.projectDir, settings.source.migrationsDir) || '.'}/`;
  const missing = applied.filter((name) => !files.some((file) => file.name === name));
  if (missing.length > 0) {
    throw new TaskError(
      `the live database has applied ${missing.length === 1 ? 'a migration' : `${missing.length} migrations`} that ${folder} does not hold: ${missing.join(', ')}`,
      {
        hint: `restore ${missing.length === 1 ? 'it' : 'them'} from version control (git log -- ${shellArg(folder)}), then run the command again`,
      },
    );
  }
  const outOfOrder = applied.findIndex((name, index) => files[index]?.name !== name);
  if (outOfOrder !== -1) {
    throw new TaskError(
      `the live database's ledger is not the first ${applied.length} migrations of ${folder} in order: it has ${applied[outOfOrder]} where the folder has ${files[outOfOrder]?.name ?? 'nothing'}`,
      {
        hint: '`gulp migrate:status` against it shows which ones are out of order',
      },
    );
  }
  return { files, count: applied.length };
}

/**
 * `migrate:drift`: the schema of the database at `liveUrl` compared with a throw-away database migrated to the same
 * ledger position. Prints each difference; returns them (none: no drift). Only reads the live database.
 * @example const changes = await detectDrift({ settings, liveUrl, throwAwayUrl, logger: console });
 */
export async function detectDrift({
  settings,
  liveUrl,
  throwAwayUrl,
  logger,
}: {
  settings: MigrationSettings;
  liveUrl: string;
  throwAwayUrl: string;
  logger: Logger;
}): Promise<SchemaChange[]> {
  const applied = (await readAppliedNames(liveUrl, settings.ledger, settings.connection)) ?? [];
  const { count } = await ledgerPosition(settings, applied);
  const started = performance.now();
  const { changes } = await compareWithMigrations({ settings, liveUrl, throwAwayUrl, count, logger });
  const ms = Math.round(performance.now() - started);
  const position = count === 0 ? 'no migration applied' : `${count === 1 ? '1 migration' : `${count} migrations`} applied (the last: ${applied.at(-1)})`;
  if (changes.length === 0) {
    const what = count === 0 ? 'an empty history' : `its ${count === 1 ? '1 applied migration' : `${count} applied migrations`}`;
    logger.info(`No drift: the live database's schema is what ${what} produce${count === 1 ? 's' : ''} (${ms} ms)`);
    return changes;
  }
  logger.warn(
    [
      `Drift: the live database (${position}) differs from what those migrations produce in ${changes.length === 1 ? '1 place' : `${changes.length} places`}:`,
      ...changes.map((change) => `  ${describeDifference(change)}`),
    ].join('\n'),
  );
  return changes;
}
