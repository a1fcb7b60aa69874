import path from 'node:path';
import type { Client } from 'pg';
import { hashMigrationFileSync, upsertChecksums } from '../db/checksums';
import { ledgerLabel, readLedger } from '../db/ledger';
import type { CommandSettings, Settings } from '../settings/settings';
import { messageOf, TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { readMigrationFolder, type IgnoredFile, type MigrationFolder } from '../sources/migration-folder';
import { withClient } from '../db/pg-client';
import { cachedChecksums } from './checksum-cache';
import { classifyMigrations, statusExitCode, summarize, summaryLine, type FileEntry, type MigrationStatus, type StatusSummary } from '../engine/status-model';
import { shellArg } from '../util/shell';

/** Version of the `--json` document; bumped only when a key changes meaning or disappears. */
export const STATUS_JSON_VERSION = 1;

/** What migrate:status reads: the folder, the ledger, and --json / --accept / --name. */
export type StatusSettings = Pick<Settings, 'source' | 'ledger'> & { command: Pick<CommandSettings, 'name' | 'accept' | 'json'> };

export interface StatusOptions {
  settings: StatusSettings;
  /** The database whose ledger is read. */
  url: string;
  logger: Logger;
  /** Where `--json` writes its document (stdout, so gulp's log prefix does not touch it). */
  write: (text: string) => void;
}

/** The `--json` document (documented in docs/commands.md; keys are stable). */
export interface StatusDocument {
  version: number;
  /** Absolute path of the migrations folder that was read. */
  folder: string;
  /** node-pg-migrate's ledger table, schema-qualified. */
  ledger: string;
  migrations: MigrationStatus[];
  ignoredFiles: IgnoredFile[];
  /** Names whose checksums this run recorded (--accept); empty otherwise. */
  accepted: string[];
  summary: {
    applied: number;
    pending: number;
    outOfOrder: number;
    missing: number;
    edited: number;
    noChecksum: number;
    ignoredFiles: number;
  };
  exitCode: number;
}

/**
 * `migrate:status`: one row per migration (applied, pending, out of order, missing, edited, no checksum), the files
 * node-pg-migrate would not take as migrations, a summary line; returns the exit status bitmask (1 pending, 2 drift).
 * Reads only (SELECTs): nothing is created, not even the ledger table. `--accept` records checksums (see acceptChecksums).
 * @example process.exitCode = await migrationStatus({ settings, url, logger: console, write: (text) => process.stdout.write(text) });
 */
export async function migrationStatus({ settings, url, logger, write }: StatusOptions): Promise<number> {
  const { source, command } = settings;
  if (command.name !== undefined && !command.accept) {
    throw new TaskError('--name works with --accept only here (to accept the checksum of that one migration)', {
      hint: 'run `gulp migrate:status` to see every migration, or `gulp migrate:status --accept --name NAME` to accept one',
    });
  }
  const folder = await readStatusFolder(source);
  const { compareMigrationFileNames } = await import('node-pg-migrate/utils/comparators');
  const compareNames = (a: string, b: string) => compareMigrationFileNames(a, b);

  const { migrations, accepted } = await withClient(url, async (client) => {
    // The ledger query runs while the files are hashed (synchronously: see hashMigrationFileSync).
    const reading = readLedger(client, settings.ledger).then((entries) => entries ?? []);
    reading.catch(() => undefined); // awaited below; this only keeps a failure during hashing from going unhandled
    const files = hashFiles(folder, { projectDir: source.projectDir });
    const ledger = await reading;
    const before = classifyMigrations({ files, ledger, compareNames });
    if (!command.accept) return { migrations: before, accepted: [] as string[] };
    const names = await acceptChecksums(client, before, settings, logger);
    const accepted = new Set(names);
    const current = new Map(files.map((file) => [file.name, file.current]));
    const updated = ledger.map((entry) => (accepted.has(entry.name) ? { ...entry, recorded: current.get(entry.name) } : entry));
    return { migrations: classifyMigrations({ files, ledger: updated, compareNames }), accepted: names };
  });

  const summary = summarize(migrations);
  const exitCode = statusExitCode(summary, { blockingFiles: folder.ignored.filter((file) => file.blocksMigrate).length });
  if (command.json) {
    write(`${JSON.stringify(statusDocument({ folder, settings, migrations, accepted, summary, exitCode }), null, 2)}\n`);
  } else {
    // One message, so one timestamp: formatting gulp's timestamp per line cost ~0.5 s for 10 000 rows.
    logger.info(formatStatus({ folder, settings, migrations, summary }).join('\n'));
  }
  return exitCode;
}

/** The migrations folder as status reads it; a missing folder is a TaskError saying what to set. */
export async function readStatusFolder(source: StatusSettings['source']): Promise<MigrationFolder> {
  try {
    return await readMigrationFolder(source.migrationsDir, source.ignorePattern);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new TaskError(`migrations folder ${path.relative(source.projectDir, source.migrationsDir) || source.migrationsDir}/ does not exist`, {
      hint: 'point MIGRATIONS_DIR (or --migrations-dir) at the folder that holds the migrations, then run `gulp migrate:status` again',
      cause: error,
    });
  }
}

/**
 * Every migration file with the checksum of its content now. With `projectDir`, checksums of files unchanged since an
 * earlier run (same size, times and inode) come from the cache in its node_modules (see ./checksum-cache).
 */
export function hashFiles(folder: MigrationFolder, { projectDir }: { projectDir?: string } = {}): FileEntry[] {
  const hash = (filePath: string) => {
    try {
      return hashMigrationFileSync(filePath);
    } catch (error) {
      throw new TaskError(`could not read the migration file ${filePath}: ${messageOf(error)}`, {
        hint: 'make it readable (or remove it from the folder), then run `gulp migrate:status` again',
        cause: error,
      });
    }
  };
  const paths = folder.migrations.map((migration) => migration.path);
  const sums = projectDir === undefined ? paths.map(hash) : cachedChecksums(folder.dir, paths, hash, { projectDir });
  return folder.migrations.map(({ name, file }, index) => ({ name, file, current: sums[index]! }));
}

/**
 * `--accept`: records the current checksum of every applied migration that has none (after a human checked them) and
 * returns their names. An edited migration is not accepted in bulk: it is named with the command that accepts it on
 * purpose, `--accept --name NAME`, which records the current checksum of that one applied migration whatever its state.
 */
export async function acceptChecksums(client: Client, migrations: readonly MigrationStatus[], settings: StatusSettings, logger: Logger): Promise<string[]> {
  const { name } = settings.command;
  if (name !== undefined) {
    const row = findMigration(migrations, name, settings.source);
    if (row.state === 'applied') {
      logger.info(`The checksum of ${row.name} already matches its file: nothing to accept`);
      return [];
    }
    await upsertChecksums(client, settings.ledger, [row.name], [row.checksum.current!]);
    const was = row.state === 'edited' ? ' (edited after it was applied: its current content is now the accepted version)' : '';
    logger.info(`Recorded the checksum of ${row.name}${was}`);
    return [row.name];
  }

  const targets = migrations.filter((row) => row.state === 'no checksum');
  const edited = migrations.filter((row) => row.state === 'edited').map((row) => row.name);
  if (targets.length > 0) {
    await upsertChecksums(
      client,
      settings.ledger,
      targets.map((row) => row.name),
      targets.map((row) => row.checksum.current!),
    );
    logger.info(`Recorded the checksums of ${count(targets.length, 'applied migration')} that had none`);
  } else {
    logger.info('Nothing to accept: no applied migration lacks a checksum');
  }
  if (edited.length > 0) {
    const which = edited.length === 1 ? edited[0]! : `${edited.length}: ${edited.join(', ')}`;
    logger.info(
      `Not accepted: ${count(edited.length, 'edited migration')} (${which}), changed after it was applied. If the change is deliberate, ` +
        `accept it by name: \`gulp migrate:status --accept --name ${edited[0]}\``,
    );
  }
  return targets.map((row) => row.name);
}

/** The applied migration `--name` names (with or without its extension), or a TaskError saying why it cannot be accepted. */
function findMigration(migrations: readonly MigrationStatus[], name: string, source: StatusSettings['source']): MigrationStatus {
  const shortName = (candidate: MigrationStatus) => candidate.name.replace(/^\d+[_-]/, '');
  const exact = migrations.find((candidate) => candidate.name === name || candidate.file === name);
  // The name given to migrate:create (without the timestamp) is what people remember: accept it when it is unique.
  const byShortName = migrations.filter((candidate) => shortName(candidate) === name);
  const row = exact ?? (byShortName.length === 1 ? byShortName[0] : undefined);
  const folder = `${path.relative(source.projectDir, source.migrationsDir) || '.'}/`;
  if (!row) {
    const candidates = byShortName.length > 1 ? `; it could be ${byShortName.map((candidate) => candidate.name).join(' or ')}` : '';
    throw new TaskError(`cannot accept ${name}: there is no migration of that name in ${folder} or in the ledger${candidates}`, {
      hint: '`gulp migrate:status` lists every migration with its name; pass one of those to --name',
    });
  }
  if (row.state === 'pending' || row.state === 'out of order') {
    throw new TaskError(`cannot accept ${row.name}: it is not applied (${row.state})`, {
      hint: 'checksums are recorded when `gulp migrate` applies a migration; nothing to accept',
    });
  }
  if (row.state === 'missing') {
    throw new TaskError(`cannot accept ${row.name}: it is applied, but its file is gone from ${folder}`, {
      hint: `restore the file from version control (git log -- ${shellArg(folder)}), then run \`gulp migrate:status\` again`,
    });
  }
  return row;
}

interface FormatInput {
  folder: MigrationFolder;
  settings: StatusSettings;
  migrations: readonly MigrationStatus[];
  summary: StatusSummary;
}

/** The human-readable status: header, one row per migration, the files that are not migrations, summary, next steps. */
export function formatStatus({ folder, settings, migrations, summary }: FormatInput): string[] {
  const lines = [`Migrations in ${folder.dir} (ledger ${ledgerLabel(settings.ledger)}):`];
  const width = Math.max(0, ...migrations.map((row) => row.name.length));
  const newestApplied = migrations.findLast((row) => row.runOn !== null)?.name;
  for (const row of migrations) {
    const detail = rowDetail(row, newestApplied);
    lines.push(`  ${row.state.padEnd(12)}  ${detail ? `${row.name.padEnd(width)}  ${detail}` : row.name}`);
  }
  if (migrations.length === 0) lines.push('  (none)');
  if (folder.ignored.length > 0) {
    lines.push('Not migrations (node-pg-migrate skips these, or fails on them):');
    for (const { file, reason } of folder.ignored) lines.push(`  ${file}: ${reason}`);
  }
  const blocking = folder.ignored.filter((file) => file.blocksMigrate).length;
  lines.push(summaryLine(summary) + (blocking > 0 ? `, ${blocking} ${blocking === 1 ? 'file that stops' : 'files that stop'} \`gulp migrate\`` : ''));
  lines.push(...nextSteps(summary, settings.source, migrations));
  return lines;
}

function rowDetail(row: MigrationStatus, newestApplied: string | undefined): string {
  const when = row.runOn ? row.runOn.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '';
  switch (row.state) {
    case 'applied':
      return when;
    case 'edited':
      return `${when}  file changed since it was applied`;
    case 'no checksum':
      return `${when}  applied without a recorded checksum`;
    case 'missing':
      return `${when}  applied, but the file is not in the folder`;
    case 'out of order':
      return `older than ${newestApplied}, which is applied`;
    case 'pending':
      return '';
  }
}

function nextSteps(summary: StatusSummary, source: StatusSettings['source'], migrations: readonly MigrationStatus[]): string[] {
  const folder = `${path.relative(source.projectDir, source.migrationsDir) || '.'}/`;
  const steps: string[] = [];
  if (summary.pending > 0) steps.push('pending: `gulp migrate` applies them');
  if (summary['out of order'] > 0) {
    steps.push(
      'out of order: node-pg-migrate refuses a migration older than an applied one; give it a newer timestamp prefix than every applied migration (rename the file)',
    );
  }
  if (summary.missing > 0) steps.push(`missing: applied, but the file is gone; restore it from version control (git log -- ${folder})`);
  if (summary.edited > 0) {
    const edited = migrations.filter((row) => row.state === 'edited').map((row) => row.name);
    const newestApplied = migrations.findLast((row) => row.runOn !== null)?.name;
    const accept = edited.map((name) => `\`gulp migrate:status --accept --name ${name}\``).join(', ');
    const redo =
      newestApplied && edited.includes(newestApplied) ? `; for the newest one on a database of your own, \`gulp migrate:redo\` re-runs it with the edit` : '';
    steps.push(
      'edited: databases migrated earlier do not have the change; restore the applied version and put the change in a new migration ' +
        `(\`gulp migrate:create --name …\`)${redo}; or accept the edit on purpose: ${accept}`,
    );
  }
  if (summary['no checksum'] > 0) {
    steps.push(
      'no checksum: applied outside these tasks, before they recorded checksums, or by a role that could not write them (the run warned); once you checked them: `gulp migrate:status --accept`',
    );
  }
  return steps;
}

function statusDocument({ folder, settings, migrations, accepted, summary, exitCode }: FormatInput & { accepted: string[]; exitCode: number }): StatusDocument {
  return {
    version: STATUS_JSON_VERSION,
    folder: folder.dir,
    ledger: ledgerLabel(settings.ledger),
    migrations: migrations.map(({ name, file, state, runOn, checksum }) => ({ name, file, state, runOn, checksum })),
    ignoredFiles: folder.ignored.map(({ file, reason, blocksMigrate }) => ({ file, reason, blocksMigrate })),
    accepted,
    summary: {
      applied: summary.applied,
      pending: summary.pending,
      outOfOrder: summary['out of order'],
      missing: summary.missing,
      edited: summary.edited,
      noChecksum: summary['no checksum'],
      ignoredFiles: folder.ignored.length,
    },
    exitCode,
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
