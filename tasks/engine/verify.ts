import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import { CHECKSUM_TABLE, countApplied } from '../db/ledger';
import { withClient } from '../db/pg-client';
import { compareSnapshots, type SchemaChange } from '../db/schema-diff';
import { readSnapshot, type SchemaSnapshot } from '../db/schema-snapshot';
import { TaskError, messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { redactUrl } from '../util/redact';
import type { StartedDatabase } from '../providers/types';
import { runMigrations } from './run-migrations';
import type { MigrationSettings } from './types';

/** At most this many differences are listed in one error; the rest are counted. */
const MAX_LISTED_CHANGES = 20;

const RERUN = 'then run `gulp migrate:verify` again';

export interface VerifyMigrationsOptions {
  settings: MigrationSettings;
  /** Application-role URL of an empty throw-away database: everything in it is dropped. */
  url: string;
  logger: Logger;
}

/**
 * The three passes of migrate:verify against `url`; returns the migrations verified, in order. Throws a TaskError
 * naming the first migration whose down does not reverse its up (or whose re-apply differs), with the differences.
 * @example const verified = await verifyMigrations({ settings, url: throwAwayDatabase.url, logger: console });
 */
export async function verifyMigrations({ settings, url, logger }: VerifyMigrationsOptions): Promise<string[]> {
  // The runner's lines go to debug (one line per verified migration is printed instead); each warning is given once,
  // not once per pass.
  const warned = new Set<string>();
  const quiet: Logger = {
    debug: (message) => logger.debug?.(message),
    info: (message) => logger.debug?.(message),
    warn: (message) => {
      if (!warned.has(message)) logger.warn(message);
      warned.add(message);
    },
    error: (message) => logger.error(message),
  };
  const step = async (direction: 'up' | 'down'): Promise<string | undefined> =>
    (await runMigrations({ settings, url, direction, count: 1, logger: quiet }))[0]?.name;
  const ignoreTables = [settings.ledger.table, CHECKSUM_TABLE].map((table) => `${quote(settings.ledger.schema)}.${quote(table)}`);

  return withClient(url, async (client) => {
    const snapshot = () => readSnapshot(client, { ignoreTables });
    await assertNothingApplied(client, settings);
    const empty = await snapshot();

    let started = performance.now();
    const applied: { name: string; after: SchemaSnapshot }[] = [];
    for (let name = await step('up'); name; name = await step('up')) applied.push({ name, after: await snapshot() });
    if (applied.length === 0) return [];
    logger.info(`Applied ${count(applied.length)} one at a time, a schema snapshot after each (${elapsed(started)} ms); rolling them back one at a time`);

    started = performance.now();
    for (let index = applied.length - 1; index >= 0; index -= 1) {
      const { name } = applied[index]!;
      const rolledBack = await step('down').catch((error: unknown) => {
        throw explainIrreversible(name, error, settings.source.migrationsDir) ?? error;
      });
      if (rolledBack !== name) {
        throw new TaskError(`expected to roll back ${name}, but ${rolledBack ? `node-pg-migrate rolled back ${rolledBack}` : 'nothing was rolled back'}`, {
          hint: `check that nothing else migrates this database while it is verified, ${RERUN}`,
        });
      }
      const before = index === 0 ? empty : applied[index - 1]!.after;
      const changes = compareSnapshots(before, await snapshot());
      if (changes.length > 0) throw downMismatch(name, changes, index === 0);
    }
    logger.info(`Rolled back ${count(applied.length)}: each down restored the schema from before its up (${elapsed(started)} ms); applying them again`);

    for (const { name, after } of applied) {
      const reapplied = await step('up');
      const changes = compareSnapshots(after, await snapshot());
      if (reapplied !== name || changes.length > 0) throw reapplyMismatch(name, changes);
      logger.info(`  ✓ ${name}`);
    }
    return applied.map(({ name }) => name);
  });
}

/** The started database must be empty of migrations, or the snapshots would not start from an empty schema. */
async function assertNothingApplied(client: Client, settings: MigrationSettings): Promise<void> {
  const n = await countApplied(client, settings.ledger);
  if (n === 0) return;
  throw new TaskError(`migrate:verify needs an empty database, and this one already has ${count(n)} applied`, {
    hint: 'run `gulp migrate:verify`, which starts an empty throw-away database of its own',
  });
}

function downMismatch(name: string, changes: SchemaChange[], first: boolean): TaskError {
  const against = first ? 'the schema before any migration ran' : 'the schema before its up';
  const hint = `make the down of ${name} drop what its up creates and restore what it changes, ${RERUN}`;
  if (changes.length === 1) return new TaskError(`${name}: down ${afterDown(changes[0]!)}`, { hint });
  return new TaskError(`${name}: down does not reverse its up (${changes.length} differences from ${against}):\n${list(changes.map(afterDown))}`, { hint });
}

function reapplyMismatch(name: string, changes: SchemaChange[]): TaskError {
  const hint = `make the up of ${name} give the same schema every time (nothing that depends on the clock, random values or what already exists), ${RERUN}`;
  if (changes.length === 0) {
    return new TaskError(`${name}: re-applying the migrations after rolling them all back did not apply ${name} next`, {
      hint: `check that nothing else migrates this database while it is verified, ${RERUN}`,
    });
  }
  return new TaskError(`${name}: re-applying it gives a different schema than the first time:\n${list(changes.map(afterReapply))}`, { hint });
}

/** A migration node-pg-migrate cannot roll back by design (`down = false`, or no down and an up it cannot invert). */
function explainIrreversible(name: string, error: unknown, migrationsDir: string): TaskError | undefined {
  const reason = messageOf(error instanceof TaskError ? (error.cause ?? error) : error);
  const hint = `write a down for ${name} that reverses its up (an irreversible migration cannot be verified), ${RERUN}`;
  if (reason.includes('User has disabled down migration') && existsSync(path.join(migrationsDir, `${name}.sql`))) {
    return new TaskError(`${name}: has no \`-- Down Migration\` section, so migrate:verify cannot roll it back`, {
      hint: `add a \`-- Down Migration\` section to ${name}.sql with the SQL that reverses its up, ${RERUN}`,
      cause: error,
    });
  }
  if (reason.includes('User has disabled down migration')) {
    return new TaskError(`${name}: its down is disabled (\`export const down = false\`), so migrate:verify cannot roll it back`, { hint, cause: error });
  }
  if (reason.includes('Impossible to automatically infer down migration')) {
    const operation = /pgm\.\w+\(\)/.exec(reason)?.[0];
    const why = operation ? ` (${operation} has no automatic reverse)` : '';
    return new TaskError(`${name}: has no down, and node-pg-migrate cannot infer one from its up${why}`, { hint, cause: error });
  }
  return undefined;
}

/** A difference between the schema before an up and after its down, as what the down did wrong. */
function afterDown({ change, subject, properties }: SchemaChange): string {
  if (change === 'added') return `leaves behind ${subject}`;
  if (change === 'removed') return `drops ${subject}, which existed before its up`;
  return `does not restore ${subject}: ${properties.map(({ property, before, after }) => `${property} ${before} before its up, ${after} after its down`).join('; ')}`;
}

/** A difference between the first apply (before) and the re-apply (after). */
function afterReapply({ change, subject, properties }: SchemaChange): string {
  if (change === 'added') return `creates ${subject}, which the first apply did not`;
  if (change === 'removed') return `does not create ${subject}, which the first apply did`;
  return `gives ${subject} another ${properties.map(({ property, before, after }) => `${property}: ${after} (the first time: ${before})`).join('; ')}`;
}

function list(lines: string[]): string {
  const shown = lines.slice(0, MAX_LISTED_CHANGES).map((line) => `  - ${line}`);
  if (lines.length > MAX_LISTED_CHANGES) shown.push(`  … and ${lines.length - MAX_LISTED_CHANGES} more`);
  return shown.join('\n');
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function count(n: number): string {
  return `${n} ${n === 1 ? 'migration' : 'migrations'}`;
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

/**
 * The database verify may wipe: one startDb started for this run, not external, not kept. Throws a TaskError saying
 * why otherwise.
 */
export function assertThrowAwayDatabase(database: Pick<StartedDatabase, 'provider' | 'url'> | undefined, kept: boolean): void {
  if (!database) {
    throw new TaskError('migrate:verify needs a throw-away database of its own, and none was started in this run', {
      hint: 'run `gulp migrate:verify`, which starts one and removes it afterwards (in your own gulpfile, put createStartDbTask(ctx) before createVerifyTask(ctx))',
    });
  }
  if (database.provider === 'external') throw verifyRefusal(`the external database at ${redactUrl(database.url)}`, 'DB_PROVIDER=external');
  if (kept) throw verifyRefusal(`the kept database at ${redactUrl(database.url)}`, 'KEEP_DB=1');
}

/** migrate:verify refusing a database it must not wipe, and what to run instead. */
export function verifyRefusal(what: string, setting: string): TaskError {
  return new TaskError(`migrate:verify applies and rolls back every migration, dropping what they create: it refuses ${what}`, {
    hint: `run \`gulp migrate:verify\` without ${setting}: it starts a throw-away database of its own and removes it afterwards`,
  });
}
