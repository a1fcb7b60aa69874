import path from 'node:path';
import type { Direction } from '../settings/settings';
import type { MigrationSettings } from './types';
import type { Logger } from '../util/logger';
import { readAppliedNames } from '../db/ledger';
import { explainMigrationFailure } from './migration-errors';
import { loadMigrationFiles, renderMigration, type LoadedMigration, type RenderedMigration } from '../sources/render-sql';
import { assertRollbacksExist } from '../sources/sql-rollbacks';

export interface DryRunOptions {
  settings: MigrationSettings;
  /** Application-role URL of the database whose ledger says what is applied. Only read, never written. */
  url: string;
  direction: Direction;
  /** How many; Infinity for all. */
  count: number;
  logger: Logger;
}

/** What a dry run found: the migrations that would run, rendered, and whether the ledger table exists yet. */
export interface DryRunPlan {
  direction: Direction;
  migrations: RenderedMigration[];
  /** False when the ledger table does not exist: the real run would create it first. */
  ledgerExists: boolean;
  /** node-pg-migrate's ledger table, schema-qualified and quoted as it writes it. */
  ledgerTable: string;
}

/**
 * `migrate --dry-run`: prints, per migration that would run, its SQL in the transaction framing node-pg-migrate would
 * use, then one summary line. Changes nothing: the ledger is read with a plain SELECT in a read-only transaction when
 * it exists (never created), no advisory lock is taken, the migrations are rendered without the database.
 * @example await dryRunMigrations({ settings, url: settings.connection.url, direction: 'up', count: Infinity, logger: console });
 */
export async function dryRunMigrations({ settings, url, direction, count, logger }: DryRunOptions): Promise<DryRunPlan> {
  const plan = await planDryRun({ settings, url, direction, count, logger });
  for (const line of formatDryRun(plan, { singleTransaction: settings.run.singleTransaction, projectDir: settings.source.projectDir })) logger.info(line);
  return plan;
}

/** Reads the ledger (if any), decides which migrations would run as node-pg-migrate's runner would, and renders them. */
export async function planDryRun({ settings, url, direction, count, logger }: DryRunOptions): Promise<DryRunPlan> {
  const ledgerTable = `"${settings.ledger.schema}"."${settings.ledger.table}"`;
  const applied = { names: await readAppliedNames(url, settings.ledger, settings.connection) };
  const load = { dir: settings.source.migrationsDir, projectDir: settings.source.projectDir, logger, ignorePattern: settings.source.ignorePattern };
  const loaded = await loadMigrationFiles(load);
  const toRun = migrationsToRun(applied.names ?? [], loaded, direction, count, settings);
  // The same refusal as the real run, before anything is rendered: a .sql migration without any rollback.
  if (direction === 'down')
    assertRollbacksExist(toRun, path.relative(settings.source.projectDir, settings.source.migrationsDir) || settings.source.migrationsDir);
  const migrations: RenderedMigration[] = [];
  for (const migration of toRun) {
    migrations.push(
      await renderMigration(migration, {
        direction,
        migrationsTable: settings.ledger.table,
        migrationsSchema: settings.ledger.schema,
        projectDir: settings.source.projectDir,
        logger,
      }),
    );
  }
  return { direction, migrations, ledgerExists: applied.names !== undefined, ledgerTable };
}

export interface FormatDryRunOptions {
  /** One transaction around the whole run (the default of these tasks), or one per migration. */
  singleTransaction: boolean;
  /** File paths in header lines are shown relative to this folder. */
  projectDir: string;
}

/**
 * The lines a dry run prints (one logger call each; a statement may span lines): per migration a header comment and
 * its SQL with the ledger row, framed as node-pg-migrate frames them: in single-transaction mode one BEGIN/COMMIT
 * around the run, which a `pgm.noTransaction()` migration breaks (COMMIT before it, BEGIN after it); otherwise
 * BEGIN/COMMIT around each migration that uses a transaction. Ends with the summary line.
 */
export function formatDryRun(
  { direction, migrations, ledgerExists, ledgerTable }: DryRunPlan,
  { singleTransaction, projectDir }: FormatDryRunOptions,
): string[] {
  const lines: string[] = [];
  if (!ledgerExists) {
    lines.push(`-- the ledger table ${ledgerTable} does not exist yet: node-pg-migrate creates it before the run`);
    lines.push(`CREATE TABLE ${ledgerTable} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);`);
  }
  const arrow = direction === 'up' ? '↑' : '↓';
  if (singleTransaction && migrations.length > 0) lines.push('BEGIN;');
  for (const migration of migrations) {
    const notes = [path.relative(projectDir, migration.path) || migration.path];
    if (migration.reversed) notes.push('no down: node-pg-migrate reverses its up');
    if (!migration.usesTransaction) {
      notes.push(
        singleTransaction
          ? 'pgm.noTransaction(): breaks out of the transaction, a failure after it cannot undo it'
          : 'pgm.noTransaction(): not wrapped in a transaction',
      );
    }
    lines.push(`-- ${arrow} ${migration.name} (${notes.join('; ')})`);
    const framed = migration.usesTransaction === singleTransaction ? [] : migration.usesTransaction ? ['BEGIN;', 'COMMIT;'] : ['COMMIT;', 'BEGIN;'];
    if (framed[0]) lines.push(framed[0]);
    lines.push(...migration.statements, migration.ledgerStatement);
    if (framed[1]) lines.push(framed[1]);
  }
  if (singleTransaction && migrations.length > 0) lines.push('COMMIT;');
  lines.push(dryRunSummary(direction, migrations.length));
  return lines;
}

/** The closing line of a dry run. */
export function dryRunSummary(direction: Direction, count: number): string {
  if (count === 0) {
    return direction === 'up'
      ? 'Dry run: no pending migrations; nothing was changed'
      : 'Dry run: no migration is applied, nothing to roll back; nothing was changed';
  }
  return `Dry run: ${count} ${count === 1 ? 'migration' : 'migrations'} would be ${direction === 'up' ? 'applied' : 'rolled back'}; nothing was changed`;
}

/** node-pg-migrate's runner rules (checkOrder, getMigrationsToRun), with its errors explained the way migrate explains them. */
function migrationsToRun(applied: string[], loaded: LoadedMigration[], direction: Direction, count: number, settings: MigrationSettings): LoadedMigration[] {
  const explain = (message: string) => explainMigrationFailure(new Error(message), { settings, direction, finishedCount: 0 });
  for (let i = 0; i < Math.min(applied.length, loaded.length); i += 1) {
    if (applied[i] !== loaded[i]!.name) throw explain(`Not run migration ${loaded[i]!.name} is preceding already run migration ${applied[i]}`);
  }
  if (direction === 'up') return loaded.filter(({ name }) => !applied.includes(name)).slice(0, count);
  const byName = new Map(loaded.map((migration) => [migration.name, migration]));
  const last = applied.slice(-count).reverse();
  const deleted = last.filter((name) => !byName.has(name));
  if (deleted.length > 0) throw explain(`Definitions of migrations ${deleted.join(', ')} have been deleted.`);
  return last.map((name) => byName.get(name)!);
}
