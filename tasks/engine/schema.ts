import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from 'pg';
import { CHECKSUM_TABLE, readLedger } from '../db/ledger';
import { withClient } from '../db/pg-client';
import { renderSchema } from '../db/schema-dump';
import { readSnapshot, type SchemaSnapshot } from '../db/schema-snapshot';
import type { LedgerSettings, SourceSettings } from '../settings/settings';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';

/** What a schema dump reads: where the migrations are (for the header) and the ledger (left out of the dump). */
export interface SchemaSettings {
  source: Pick<SourceSettings, 'projectDir' | 'migrationsDir' | 'schemaFile'>;
  ledger: LedgerSettings;
}

/** The tables the schema leaves out: node-pg-migrate's ledger and our checksums, `schema.table` for to_regclass. */
export function bookkeepingTables(ledger: LedgerSettings): string[] {
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  return [ledger.table, CHECKSUM_TABLE].map((table) => `${quote(ledger.schema)}.${quote(table)}`);
}

/** The schema of the database on `client`, without the migrations' bookkeeping. */
export function schemaSnapshot(client: Client, ledger: LedgerSettings): Promise<SchemaSnapshot> {
  return readSnapshot(client, { ignoreTables: bookkeepingTables(ledger) });
}

/**
 * The schema file's text for the database at `url` (migrated by the caller): the snapshot as SQL, headed by the server
 * version and the migrations applied.
 * @example const text = await dumpSchema({ url, settings });
 */
export async function dumpSchema({ url, settings }: { url: string; settings: SchemaSettings }): Promise<string> {
  return withClient(url, async (client) => {
    const version = (await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version'])).rows[0]!.v.split(' ')[0]!;
    const applied = (await readLedger(client, settings.ledger)) ?? [];
    const snapshot = await schemaSnapshot(client, settings.ledger);
    const folder = `${path.relative(settings.source.projectDir, settings.source.migrationsDir) || '.'}/`;
    const last = applied.at(-1)?.name;
    const source =
      applied.length === 0
        ? `no migration (of ${folder})`
        : `the ${applied.length === 1 ? 'migration' : `${applied.length} migrations`} in ${folder}${last ? ` (the last: ${last})` : ''}`;
    return renderSchema(snapshot, { server: `PostgreSQL ${version}`, source });
  });
}

/** The schema file as the project names it, for messages. */
function shown(settings: SchemaSettings): string {
  return path.relative(settings.source.projectDir, settings.source.schemaFile) || settings.source.schemaFile;
}

/**
 * Writes the schema file; says whether it changed. `schema:dump`, and migrate:local when the file exists.
 * @example await writeSchemaFile({ url, settings, logger: console });
 */
export async function writeSchemaFile({ url, settings, logger }: { url: string; settings: SchemaSettings; logger: Logger }): Promise<{ changed: boolean }> {
  const text = await dumpSchema({ url, settings });
  const before = await readFile(settings.source.schemaFile, 'utf8').catch(() => undefined);
  if (before === text) {
    logger.info(`${shown(settings)} is current (no change)`);
    return { changed: false };
  }
  try {
    await writeFile(settings.source.schemaFile, text);
  } catch (error) {
    throw new TaskError(`could not write ${shown(settings)}: ${messageOf(error)}`, {
      hint: 'check that the folder is writable, or set SCHEMA_FILE',
      cause: error,
    });
  }
  const { added, removed } = lineChanges(before ?? '', text);
  logger.info(
    before === undefined ? `Wrote ${shown(settings)} (${text.split('\n').length - 1} lines)` : `Updated ${shown(settings)} (+${added} −${removed} lines)`,
  );
  return { changed: true };
}

/**
 * `schema:check`: throws a TaskError with a unified diff when the committed schema file is not what the migrations
 * produce (a migration edited after the dump, or a hand-edited file); says so when it is.
 * @example await checkSchemaFile({ url, settings, logger: console });
 */
export async function checkSchemaFile({ url, settings, logger }: { url: string; settings: SchemaSettings; logger: Logger }): Promise<void> {
  const expected = await dumpSchema({ url, settings });
  let committed: string;
  try {
    committed = await readFile(settings.source.schemaFile, 'utf8');
  } catch (error) {
    throw new TaskError(`there is no schema file ${shown(settings)} to check`, {
      hint: 'run `gulp schema:dump` to write it, and commit it (or point SCHEMA_FILE / --schema-file at yours)',
      cause: error,
    });
  }
  if (committed.replace(/\r\n/g, '\n') === expected) {
    logger.info(`${shown(settings)} is what the migrations produce`);
    return;
  }
  const { createTwoFilesPatch } = await import('diff');
  const patch = createTwoFilesPatch(
    `${shown(settings)} (committed)`,
    `${shown(settings)} (from the migrations)`,
    committed.replace(/\r\n/g, '\n'),
    expected,
    '',
    '',
    {
      context: 3,
    },
  );
  // Without its first line (a row of `=`): from the `---` / `+++` header on.
  const body = patch.split('\n').slice(1).join('\n').trimEnd();
  throw new TaskError(`${shown(settings)} is not what the migrations produce:\n${body}`, {
    hint: 'if the migrations are right, run `gulp schema:dump` and commit the file; if the file is, a migration was edited after it was dumped: restore it and put the change in a new migration',
  });
}

function lineChanges(before: string, after: string): { added: number; removed: number } {
  const count = (lines: string[]) => lines.reduce((map, line) => map.set(line, (map.get(line) ?? 0) + 1), new Map<string, number>());
  const old = count(before.split('\n'));
  const now = count(after.split('\n'));
  let added = 0;
  let removed = 0;
  for (const [line, n] of now) added += Math.max(0, n - (old.get(line) ?? 0));
  for (const [line, n] of old) removed += Math.max(0, n - (now.get(line) ?? 0));
  return { added, removed };
}
