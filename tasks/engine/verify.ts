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
import { acquireMigrationLock, releaseMigrationLock } from '../db/migration-lock';
import { readMigrationFolder } from '../sources/migration-folder';
import { loadMigrationFiles, renderMigration, type RenderedMigration } from '../sources/render-sql';
import { gitHistory } from '../sources/history';
import { leavesAccepts, type VerifyExceptions } from '../sources/verify-exceptions';
import { forgetLoadedMigrations, PG_MIGRATE_LOCK_ID, runMigrations } from './run-migrations';
import type { MigrationSettings } from './types';

/** At most this many differences are listed in one error; the rest are counted. */
const MAX_LISTED_CHANGES = 20;

const RERUN = 'then run `gulp migrate:verify` again';

export interface VerifyMigrationsOptions {
  settings: MigrationSettings;
  /** Application-role URL of an empty throw-away database: everything in it is dropped. */
  url: string;
  logger: Logger;
  /**
   * --since: the last history migration (its name, file name or name without timestamp), or a git ref whose migrations
   * are history. History is applied once, at once; only the migrations after it are verified. Default: all.
   */
  since?: string;
  /** Accepted exceptions (.pgmt-verify.json). Default: none. */
  exceptions?: VerifyExceptions;
}

/**
 * The three passes of migrate:verify against `url`; returns the migrations verified, in order. Throws a TaskError
 * naming the first migration whose down does not reverse its up (or whose re-apply differs), with the differences.
 * One session for the whole run (it holds the migration lock), the migration files loaded once.
 * @example const verified = await verifyMigrations({ settings, url: throwAwayDatabase.url, logger: console });
 */
export async function verifyMigrations({ settings, url, logger, since, exceptions = { migrations: {} } }: VerifyMigrationsOptions): Promise<string[]> {
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
  const ignoreTables = [settings.ledger.table, CHECKSUM_TABLE].map((table) => `${quote(settings.ledger.schema)}.${quote(table)}`);
  const history = await historyCount(settings, since);
  forgetLoadedMigrations(settings.source.migrationsDir);
  const lockId = String(PG_MIGRATE_LOCK_ID);

  return withClient(url, async (session) => {
    await assertNothingApplied(session, settings);
    await acquireMigrationLock(session, { lockId, mode: settings.run.lockMode, waitTimeoutMs: settings.run.lockWaitMs, logger });
    try {
      return await withClient(url, async (reader) => {
        // Snapshots read on two sessions at once: nothing else changes the schema meanwhile.
        const snapshot = () => readSnapshot([session, reader], { ignoreTables });
        // Checksums only for the final re-apply: the database then ends as a migrate run leaves one.
        const run = async (direction: 'up' | 'down', n = 1, checksums = false): Promise<string[]> =>
          (await runMigrations({ settings, url, direction, count: n, logger: quiet, session, reload: false, checksums })).map((migration) => migration.name);

        const started = performance.now();
        if (history.count > 0) {
          await run('up', history.count);
          logger.info(`Applied ${count(history.count)} of history at once, up to ${history.last} (${elapsed(started)} ms); verifying the migrations after it`);
        }
        const { step, names, moved } = await prepareSteps(settings, session, history.count, (direction) => run(direction).then((found) => found[0]));
        const irreversible = (name: string) => exceptions.migrations[name]?.irreversible === true;
        /** What accepted downs left behind: not held against the downs before them. */
        const residue = new Set<string>();
        let base = await snapshot();
        let first = history.count === 0;
        // Verified in segments: an accepted irreversible migration is applied between them, never rolled back, so the
        // migrations before it are still rolled back and applied again.
        for (let start = 0; start < names.length;) {
          let end = start;
          while (end < names.length && !irreversible(names[end]!)) end += 1;
          if (end > start) {
            await verifySegment(names.slice(start, end), base, first);
            base = await snapshot();
          }
          if (end < names.length) {
            const name = names[end]!;
            const applied = await step('up');
            if (applied !== name)
              throw new TaskError(`expected to apply ${name}, but ${applied ? `node-pg-migrate applied ${applied}` : 'nothing was applied'}`, {
                hint: `check that nothing else migrates this database while it is verified, ${RERUN}`,
              });
            logger.info(`  ✓ ${name} (accepted: irreversible on purpose${because(exceptions.migrations[name]?.reason)}; not rolled back)`);
            base = await snapshot();
          }
          first = false;
          start = end + 1;
        }
        return names;

        /** The three passes over consecutive migrations, from `base`, the schema before the first of them. */
        async function verifySegment(segment: string[], segmentBase: SchemaSnapshot, fromEmpty: boolean): Promise<void> {
          let started = performance.now();
          const applied: { name: string; after: SchemaSnapshot }[] = [];
          for (const expected of segment) {
            const name = await step('up');
            if (name !== expected)
              throw new TaskError(`expected to apply ${expected}, but ${name ? `node-pg-migrate applied ${name}` : 'nothing was applied'}`, {
                hint: `check that nothing else migrates this database while it is verified, ${RERUN}`,
              });
            applied.push({ name, after: await snapshot() });
          }
          logger.info(`Applied ${count(applied.length)} one at a time, a schema snapshot after each (${elapsed(started)} ms); rolling them back one at a time`);

          started = performance.now();
          const accepted = new Map<string, string>();
          for (let index = applied.length - 1; index >= 0; index -= 1) {
            const { name } = applied[index]!;
            const exception = {
              ...exceptions.all,
              ...exceptions.migrations[name],
              leaves: [...(exceptions.all?.leaves ?? []), ...(exceptions.migrations[name]?.leaves ?? [])],
            };
            const rolledBack = await step('down').catch((error: unknown) => {
              throw explainIrreversible(name, error, settings.source.migrationsDir) ?? error;
            });
            if (rolledBack !== name) {
              throw new TaskError(
                `expected to roll back ${name}, but ${rolledBack ? `node-pg-migrate rolled back ${rolledBack}` : 'nothing was rolled back'}`,
                {
                  hint: `check that nothing else migrates this database while it is verified, ${RERUN}`,
                },
              );
            }
            const before = index === 0 ? segmentBase : applied[index - 1]!.after;
            const changes = compareSnapshots(before, await snapshot()).filter((change) => !(change.change === 'added' && residue.has(change.subject)));
            const left = changes.filter((change) => change.change === 'added' && leavesAccepts(exception.leaves, change.subject));
            if (changes.length > left.length)
              throw downMismatch(
                name,
                changes.filter((change) => !left.includes(change)),
                index === 0 && fromEmpty,
              );
            if (left.length > 0) {
              for (const change of left) residue.add(change.subject);
              accepted.set(name, `its down leaves ${left.map((change) => change.subject).join(', ')}${because(exception.reason)}`);
            }
          }
          logger.info(`Rolled back ${count(applied.length)}: each down restored the schema from before its up (${elapsed(started)} ms); applying them again`);

          // Re-applied all at once, one snapshot compared: a difference is then traced one migration at a time.
          const reapplied = await run('up', applied.length, true);
          moved(reapplied.length);
          const final = compareSnapshots(applied.at(-1)!.after, await snapshot());
          if (final.length > 0 || reapplied.join() !== applied.map(({ name }) => name).join()) {
            moved(-(await run('down', reapplied.length)).length);
            for (const { name, after } of applied) {
              const next = await step('up');
              const changes = compareSnapshots(after, await snapshot());
              if (next !== name || changes.length > 0) throw reapplyMismatch(name, changes);
            }
            throw reapplyMismatch(applied.at(-1)!.name, final);
          }
          for (const { name } of applied) {
            const note = accepted.get(name);
            logger.info(note ? `  ✓ ${name} (accepted: ${note})` : `  ✓ ${name}`);
          }
        }
      });
    } finally {
      await releaseMigrationLock(session, lockId);
    }
  });
}

/**
 * One migration up or down, the quick way where it can: its SQL rendered once beforehand by node-pg-migrate's own
 * builder (as --dry-run renders it) and sent with its ledger row in one round trip, instead of a runner call that
 * reads the ledger and loads every migration file again. A migration that cannot be rendered beforehand (it queries
 * the database, its down is disabled or cannot be inferred) and any step that fails go through the runner, which
 * explains a failure the way migrate does.
 */
async function prepareSteps(
  settings: MigrationSettings,
  session: Client,
  historyCount: number,
  runnerStep: (direction: 'up' | 'down') => Promise<string | undefined>,
): Promise<{ step: (direction: 'up' | 'down') => Promise<string | undefined>; names: string[]; moved: (by: number) => void }> {
  const { source, ledger } = settings;
  const order = (await loadMigrationFiles({ dir: source.migrationsDir, projectDir: source.projectDir, ignorePattern: source.ignorePattern })).slice(
    historyCount,
  );
  const rendered = new Map<string, Partial<Record<'up' | 'down', RenderedMigration>>>();
  for (const migration of order) {
    const both: Partial<Record<'up' | 'down', RenderedMigration>> = {};
    for (const direction of ['up', 'down'] as const) {
      both[direction] = await renderMigration(migration, {
        direction,
        migrationsTable: ledger.table,
        migrationsSchema: ledger.schema,
        projectDir: source.projectDir,
      }).catch(() => undefined);
    }
    rendered.set(migration.name, both);
  }
  let position = 0;
  const step = async (direction: 'up' | 'down'): Promise<string | undefined> => {
    const migration = direction === 'up' ? order[position] : order[position - 1];
    const sql = migration ? rendered.get(migration.name)?.[direction] : undefined;
    let name: string | undefined;
    if (sql) {
      try {
        await execute(session, sql);
        name = sql.name;
      } catch {
        await session.query('ROLLBACK').catch(() => undefined);
      }
    }
    name ??= await runnerStep(direction);
    if (name) position += direction === 'up' ? 1 : -1;
    return name;
  };
  // A run of several migrations through the runner (the re-apply) moves the position as much.
  return { step, names: order.map((migration) => migration.name), moved: (by) => void (position += by) };
}

/** A rendered migration and its ledger row: in one transaction and one round trip, or one statement at a time outside one. */
async function execute(client: Client, migration: RenderedMigration): Promise<void> {
  const statements = [...migration.statements, migration.ledgerStatement].map((statement) =>
    statement.trim().endsWith(';') ? statement.trim() : `${statement.trim()};`,
  );
  if (migration.usesTransaction) {
    await client.query(['BEGIN;', ...statements, 'COMMIT;'].join('\n'));
    return;
  }
  for (const statement of statements) await client.query(statement);
}

function because(reason: string | undefined): string {
  return reason ? ` — ${reason}` : '';
}

/** How many migrations --since makes history (the first ones of the folder), and the last of them. */
async function historyCount(settings: MigrationSettings, since: string | undefined): Promise<{ count: number; last?: string }> {
  if (since === undefined) return { count: 0 };
  const { migrations } = await readMigrationFolder(settings.source.migrationsDir, settings.source.ignorePattern);
  const exact = migrations.findIndex((file) => file.name === since || file.file === since);
  const short = migrations.flatMap((file, index) => (file.name.replace(/^\d+[_-]/, '') === since ? [index] : []));
  const index = exact !== -1 ? exact : short.length === 1 ? short[0]! : -1;
  if (index !== -1) return { count: index + 1, last: migrations[index]!.name };
  // Not a migration: a git ref, whose migrations are history up to the first that is not on it.
  const onRef = await gitHistory(settings.source.migrationsDir, since).catch((error: unknown) => {
    throw new TaskError(`--since ${since} is neither a migration of the folder nor a git ref this checkout knows (${messageOf(error).split('\n')[0]})`, {
      hint: 'name the last migration that is history (`gulp migrate:status` lists them), or a branch, tag or commit such as origin/main',
      cause: error,
    });
  });
  if (onRef.kind === 'none') throw new TaskError(`--since ${since}: ${onRef.reason}`, { hint: 'name the last migration that is history instead' });
  const onBase = new Set([...onRef.files].map((file) => path.parse(file).name));
  let count = 0;
  while (count < migrations.length && onBase.has(migrations[count]!.name)) count += 1;
  return { count, ...(count > 0 ? { last: migrations[count - 1]!.name } : {}) };
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
