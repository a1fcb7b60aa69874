import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import { readLedger } from '../db/ledger';
import { withClient } from '../db/pg-client';
import { readBaseline } from '../lint/baseline';
import { startPreflightLint, type PreflightLint } from '../lint/preflight';
import { parseDatabaseUrl, type Direction, type Settings } from '../settings/settings';
import { SCHEMA_NAME, type FleetTarget } from '../settings/targets';
import type { Cleanups } from '../util/cleanups';
import { messageOf, TaskError } from '../util/errors';
import { redactSecrets, type Logger } from '../util/logger';
import { redactUrl } from '../util/redact';
import { compareSnapshots } from '../db/schema-diff';
import { assertLintClean } from './lint-policy';
import { comparableSnapshot, describeDifference, ledgerPosition, migrateThrowAway } from './live-schema';
import { assertMigrationsFolder } from './migrate';
import { runMigrations } from './run-migrations';
import { hashFiles, readStatusFolder } from './status';
import { classifyMigrations, EXIT_DRIFT, statusExitCode, summarize, type FileEntry, type StatusSummary } from './status-model';

/** What a fleet command reads: where the files and ledger are, how to run, the connection (control database), the fleet. */
export type FleetRunSettings = Pick<Settings, 'connection' | 'source' | 'ledger' | 'run' | 'fleet'>;

export type FleetOutcome = 'ok' | 'up to date' | 'failed' | 'skipped';

/** One target's line of the report. */
export interface FleetTargetResult {
  name: string;
  /** Its schema, in a `--schemas` fleet. */
  schema?: string;
  /** Where it is, without the password. */
  database?: string;
  outcome: FleetOutcome;
  /** The migrations applied (up) or rolled back (down) on it by this run. */
  migrations: string[];
  /** What --dry-run would have run on it. */
  pending?: string[];
  ms: number;
  /** The error's first line (failed), or why it was skipped. */
  error?: string;
}

export interface FleetReport {
  version: 1;
  direction: Direction;
  dryRun: boolean;
  concurrency: number;
  canary: number;
  ms: number;
  targets: FleetTargetResult[];
  summary: Record<'ok' | 'upToDate' | 'failed' | 'skipped', number>;
}

export interface FleetOptions {
  settings: FleetRunSettings;
  direction: Direction;
  /** How many per target: Infinity for all up. */
  count: number;
  logger: Logger;
  cleanups?: Cleanups;
  /** The lint pre-flight ensureEnv started, if it did. */
  preflightLint?: PreflightLint;
  /** Passwords met on the way (from --targets-query rows) are added here, so no output shows them. */
  secrets?: Set<string>;
  /** Where a progress line goes on a terminal (`''` clears it); none elsewhere. */
  progress?: (line: string) => void;
}

interface ResolvedTarget extends FleetTarget {
  url: string;
}

/**
 * `gulp migrate --targets FILE` (or `--targets-query`, `--schemas`): every target migrated exactly as a single run
 * migrates one database (its own connection, lock and transaction), `--concurrency` at a time, `--canary` first. Each
 * target is surveyed first (its ledger read): those up to date are not run again, so a rerun resumes a failed rollout,
 * and the lint pre-flight judges what will really be applied. One line per target as it finishes, then a table;
 * `--report FILE` as JSON. Throws a TaskError naming the failed targets when any failed.
 * @example const report = await migrateFleet({ settings, direction: 'up', count: Infinity, logger: console });
 */
export async function migrateFleet(options: FleetOptions): Promise<FleetReport> {
  const { settings, direction, count, logger } = options;
  const { fleet, source, run } = settings;
  const started = performance.now();
  const folder = await assertMigrationsFolder(source.migrationsDir, source.projectDir, source.ignorePattern);
  const files = folder.migrations.map((file) => file.name);
  const targets = await resolveFleetTargets(settings, logger, options.secrets);
  const results = new Map<string, FleetTargetResult>();
  const finish = (result: FleetTargetResult) => {
    results.set(result.name, result);
    logger.info(targetLine(result, direction));
    options.progress?.(progressLine(results.size, targets.length, [...results.values()].filter((r) => r.outcome === 'failed').length));
  };
  logger.info(
    `Fleet: ${count1(targets.length, 'target')} (${describeSource(settings)}), ${fleet.concurrency} at a time${fleet.canary > 0 ? `, ${fleet.canary} first as canaries` : ''}`,
  );

  // The survey: each target's ledger, on one connection each, `concurrency` at a time.
  const plans = new Map<string, string[]>();
  await pool(targets, fleet.concurrency, async (target) => {
    const began = performance.now();
    if (target.problem !== undefined) return void finish(failed(target, target.problem, began));
    try {
      const applied = await withClient(target.url, (client) =>
        readLedger(client, ledgerOf(settings, target)).then((entries) => (entries ?? []).map((e) => e.name)),
      );
      const done = new Set(applied);
      plans.set(target.name, direction === 'up' ? files.filter((name) => !done.has(name)).slice(0, count) : applied.slice(-count).reverse());
    } catch (error) {
      finish(failed(target, firstLine(error, options.secrets), began));
    }
  });

  const toRun = targets.filter((target) => (plans.get(target.name)?.length ?? 0) > 0);
  for (const target of targets) {
    if (plans.get(target.name)?.length === 0) finish({ ...identify(target), outcome: 'up to date', migrations: [], ms: 0 });
  }
  if (run.lint && !run.dryRun && toRun.length > 0) {
    const applying = new Set(toRun.flatMap((target) => plans.get(target.name)!));
    await assertLintClean(source, logger, {
      willApply: () => Promise.resolve([...applying]),
      linted: options.preflightLint ?? startPreflightLint(source),
      local: false,
      baseline: readBaseline(source.projectDir),
    });
  }

  if (run.dryRun) {
    for (const target of toRun) {
      const pending = plans.get(target.name)!;
      results.set(target.name, { ...identify(target), outcome: 'ok', migrations: [], pending, ms: 0 });
      logger.info(`  ${target.name}: would ${direction === 'up' ? 'apply' : 'roll back'} ${count1(pending.length, 'migration')}: ${pending.join(', ')}`);
    }
  } else {
    const migrateOne = async (target: ResolvedTarget): Promise<boolean> => {
      const began = performance.now();
      const quiet: Logger = {
        debug: (message) => logger.debug?.(`${target.name}: ${message}`),
        info: (message) => logger.debug?.(`${target.name}: ${message}`),
        warn: (message) => logger.warn(`${target.name}: ${message}`),
        error: (message) => logger.error(`${target.name}: ${message}`),
      };
      try {
        const ran = await runMigrations({
          settings: settingsFor(settings, target),
          url: target.url,
          direction,
          count,
          logger: quiet,
          cleanups: options.cleanups,
        });
        finish({
          ...identify(target),
          outcome: ran.length === 0 ? 'up to date' : 'ok',
          migrations: ran.map((migration) => migration.name),
          ms: elapsed(began),
        });
        return true;
      } catch (error) {
        finish(failed(target, firstLine(error, options.secrets), began));
        return false;
      }
    };
    const canaries = toRun.slice(0, fleet.canary);
    const rest = toRun.slice(canaries.length);
    let notStarted: ResolvedTarget[] = [];
    let why = '';
    if (canaries.length > 0) {
      const left = await pool(canaries, fleet.concurrency, migrateOne, !fleet.continueOnError);
      const canaryFailed = canaries.some((target) => results.get(target.name)?.outcome === 'failed');
      if (canaryFailed) {
        notStarted = [...left, ...rest];
        why = 'a canary failed';
      } else {
        logger.info(`Canaries done: ${canaries.map((target) => target.name).join(', ')}; migrating the other ${rest.length}`);
      }
    }
    if (why === '') {
      notStarted = await pool(rest, fleet.concurrency, migrateOne, !fleet.continueOnError);
      why = 'stopped after a failure; --continue-on-error goes on';
    }
    for (const target of notStarted) finish({ ...identify(target), outcome: 'skipped', migrations: [], ms: 0, error: why });
  }
  options.progress?.('');

  const ordered = targets.map((target) => results.get(target.name)!);
  const report: FleetReport = {
    version: 1,
    direction,
    dryRun: run.dryRun,
    concurrency: fleet.concurrency,
    canary: fleet.canary,
    ms: elapsed(started),
    targets: ordered,
    summary: {
      ok: ordered.filter((result) => result.outcome === 'ok').length,
      upToDate: ordered.filter((result) => result.outcome === 'up to date').length,
      failed: ordered.filter((result) => result.outcome === 'failed').length,
      skipped: ordered.filter((result) => result.outcome === 'skipped').length,
    },
  };
  logger.info(fleetTable(report));
  if (fleet.reportFile) writeReport(fleet.reportFile, report);
  const failedNames = ordered.filter((result) => result.outcome === 'failed').map((result) => result.name);
  if (failedNames.length > 0) {
    const skipped = report.summary.skipped > 0 ? `; ${report.summary.skipped} not started` : '';
    throw new TaskError(`${failedNames.length} of ${count1(targets.length, 'target')} failed: ${listed(failedNames)}${skipped}`, {
      hint: 'each failed target says why above; fix it and run the same command again: targets already up to date are skipped, so the rollout resumes',
    });
  }
  return report;
}

/** One row of `migrate:status --targets`. */
export interface FleetStatusRow {
  name: string;
  schema?: string;
  summary?: StatusSummary;
  exitCode: number;
  error?: string;
}

/**
 * `gulp migrate:status --targets FILE`: the matrix, target × applied, pending, drifted (missing, edited or out of
 * order); reads only. Returns the exit bits of all targets together (2 pending, 4 drift), plus 1 when a target could
 * not be read.
 * @example process.exitCode = await fleetStatus({ settings, logger: console });
 */
export async function fleetStatus({
  settings,
  logger,
  secrets,
  write,
}: {
  settings: FleetRunSettings;
  logger: Logger;
  secrets?: Set<string>;
  /** Where `--json` writes (stdout); undefined prints the table. */
  write?: (text: string) => void;
}): Promise<number> {
  const folder = await readStatusFolder(settings.source);
  const files: FileEntry[] = hashFiles(folder);
  const blockingFiles = folder.ignored.filter((file) => file.blocksMigrate).length;
  const { compareMigrationFileNames } = await import('node-pg-migrate/utils/comparators');
  const compareNames = (a: string, b: string) => compareMigrationFileNames(a, b);
  const targets = await resolveFleetTargets(settings, logger, secrets);
  const rows = new Map<string, FleetStatusRow>();
  await pool(targets, settings.fleet.concurrency, async (target) => {
    if (target.problem !== undefined) return void rows.set(target.name, { ...identify(target), exitCode: 1, error: target.problem });
    try {
      const ledger = await withClient(target.url, (client: Client) => readLedger(client, ledgerOf(settings, target)));
      const summary = summarize(classifyMigrations({ files, ledger: ledger ?? [], compareNames }));
      rows.set(target.name, { ...identify(target), summary, exitCode: statusExitCode(summary, { blockingFiles }) });
    } catch (error) {
      rows.set(target.name, { ...identify(target), exitCode: 1, error: firstLine(error, secrets) });
    }
  });
  const ordered = targets.map((target) => rows.get(target.name)!);
  const exitCode = ordered.reduce((bits, row) => bits | row.exitCode, 0);
  if (write) {
    write(`${JSON.stringify({ version: 1, migrations: files.length, targets: ordered, exitCode }, null, 2)}\n`);
    return exitCode;
  }
  const drifted = (summary: StatusSummary) => summary.missing + summary.edited + summary['out of order'];
  const table = [
    ['target', 'applied', 'pending', 'drifted', 'state'],
    ...ordered.map((row) =>
      row.summary
        ? [
            row.name,
            String(row.summary.applied + row.summary.edited + row.summary['no checksum']),
            String(row.summary.pending),
            String(drifted(row.summary)),
            drifted(row.summary) > 0 ? 'drift' : row.summary.pending > 0 ? 'pending' : 'up to date',
          ]
        : [row.name, '-', '-', '-', `unreachable: ${row.error}`],
    ),
  ];
  const pendingCount = ordered.filter((row) => (row.summary?.pending ?? 0) > 0).length;
  const driftCount = ordered.filter((row) => row.summary && drifted(row.summary) > 0).length;
  const unreadable = ordered.filter((row) => row.error !== undefined).length;
  logger.info(
    [
      `Fleet status: ${count1(targets.length, 'target')}, ${count1(files.length, 'migration')} in the folder`,
      ...formatTable(table),
      `${ordered.length - pendingCount - driftCount - unreadable} up to date, ${pendingCount} with pending migrations, ${driftCount} drifted, ${unreadable} unreachable`,
    ].join('\n'),
  );
  return exitCode;
}

/**
 * `gulp migrate:drift --targets FILE` (or `--targets-query`): each live database compared with what its applied
 * migrations produce. One throw-away database is migrated forward through the positions the targets are at (each
 * position once), and every target at a position is compared with it. Only reads the targets. Returns the exit bits:
 * 4 when any target drifted, 1 when one could not be read.
 * @example process.exitCode = await fleetDrift({ settings, throwAwayUrl, logger: console });
 */
export async function fleetDrift({
  settings,
  throwAwayUrl,
  logger,
  secrets,
}: {
  settings: FleetRunSettings;
  throwAwayUrl: string;
  logger: Logger;
  secrets?: Set<string>;
}): Promise<number> {
  if (settings.fleet.schemas !== undefined) {
    throw new TaskError('migrate:drift compares whole databases: --schemas is not supported here', {
      hint: 'use `gulp migrate:status --schemas …` for the tenants’ ledgers, or --targets with one database per tenant',
    });
  }
  const targets = await resolveFleetTargets(settings, logger, secrets);
  const positions = new Map<number, ResolvedTarget[]>();
  const broken = new Map<string, string>();
  await pool(targets, settings.fleet.concurrency, async (target) => {
    if (target.problem !== undefined) return void broken.set(target.name, target.problem);
    try {
      const applied = await withClient(target.url, (client) => readLedger(client, settings.ledger)).then((entries) => (entries ?? []).map((e) => e.name));
      const { count } = await ledgerPosition(settings, applied);
      positions.set(count, [...(positions.get(count) ?? []), target]);
    } catch (error) {
      broken.set(target.name, firstLine(error, secrets));
    }
  });
  const drifted = new Map<string, string[]>();
  let position = 0;
  for (const count of [...positions.keys()].sort((a, b) => a - b)) {
    await migrateThrowAway({ settings, throwAwayUrl, count: count - position, logger });
    position = count;
    const expected = await comparableSnapshot(settings, throwAwayUrl);
    await pool(positions.get(count)!, settings.fleet.concurrency, async (target) => {
      try {
        const changes = compareSnapshots(expected, await comparableSnapshot(settings, target.url));
        drifted.set(target.name, changes.map(describeDifference));
      } catch (error) {
        broken.set(target.name, firstLine(error, secrets));
      }
    });
  }
  const lines: string[] = [`Drift of ${count1(targets.length, 'target')} (${describeSource(settings)}):`];
  for (const target of targets) {
    const changes = drifted.get(target.name);
    if (broken.has(target.name)) lines.push(`  ✗ ${target.name}: could not be read: ${broken.get(target.name)}`);
    else if (changes && changes.length === 0) lines.push(`  = ${target.name}: no drift`);
    else if (changes) lines.push(`  ✗ ${target.name}: differs in ${count1(changes.length, 'place')}:`, ...changes.map((change) => `      ${change}`));
  }
  const driftCount = [...drifted.values()].filter((changes) => changes.length > 0).length;
  lines.push(`${targets.length - driftCount - broken.size} without drift, ${driftCount} drifted, ${broken.size} unreadable`);
  (driftCount + broken.size > 0 ? logger.warn : logger.info).call(logger, lines.join('\n'));
  return (driftCount > 0 ? EXIT_DRIFT : 0) | (broken.size > 0 ? 1 : 0);
}

/**
 * The fleet's targets: the file's (already read with the settings), a query's rows on DATABASE_URL (name, url), or the
 * schemas of DATABASE_URL (a list, or a query's first column). An empty fleet is an error: a query that matched
 * nothing is more likely a mistake than a fleet of none.
 */
export async function resolveFleetTargets(
  settings: FleetRunSettings,
  logger: Logger,
  secrets?: Set<string>,
): Promise<(ResolvedTarget | (FleetTarget & { url: string }))[]> {
  const { fleet, connection } = settings;
  let targets: FleetTarget[];
  if (fleet.targets !== undefined) {
    targets = fleet.targets;
    if (fleet.targetsWithPassword.length > 0) {
      logger.warn(
        `${path.basename(fleet.targetsFile ?? 'the targets file')}: the URL of ${listed(fleet.targetsWithPassword)} holds a password; the file is meant to be committed: use { "name": …, "env": "VARIABLE" } with the URL in that variable`,
      );
    }
  } else if (fleet.targetsQuery !== undefined) {
    const rows = await queryControl<Record<string, unknown>>(connection.url, fleet.targetsQuery, '--targets-query');
    const bad = rows.filter((row) => typeof row.name !== 'string' || typeof row.url !== 'string');
    if (bad.length > 0)
      throw new TaskError(`--targets-query returned ${count1(bad.length, 'row')} without a text "name" and "url" column`, {
        hint: 'select the columns as name and url, e.g. SELECT slug AS name, dsn AS url FROM tenants',
      });
    targets = rows.map((row) => ({ name: row.name as string, url: row.url as string }));
    const names = targets.map((target) => target.name);
    const twice = names.filter((name, index) => names.indexOf(name) !== index);
    if (twice.length > 0)
      throw new TaskError(`--targets-query returned the name ${listed([...new Set(twice)])} more than once`, { hint: 'make the names unique' });
  } else {
    const schemas = fleet.schemas!;
    let names: string[];
    if ('list' in schemas) names = schemas.list;
    else {
      const rows = await queryControl<Record<string, unknown>>(connection.url, schemas.query, '--schemas');
      names = rows.map((row) => Object.values(row)[0]).map(String);
      const bad = names.filter((name) => !SCHEMA_NAME.test(name));
      if (bad.length > 0)
        throw new TaskError(`--schemas: the query returned ${listed(bad.map((name) => JSON.stringify(name)))}, not schema names these tasks take`, {
          hint: 'schema names of letters, digits and _ (not starting with a digit), at most 63 characters',
        });
    }
    targets = names.map((name) => ({ name, url: connection.url, schema: name }));
  }
  if (targets.length === 0) {
    throw new TaskError(`the fleet is empty: ${describeSource(settings)} named no target`, {
      hint: 'check the file or the query: it must name at least one database (or schema)',
    });
  }
  for (const target of targets) {
    const password = target.url === undefined ? undefined : passwordOf(target.url);
    if (password) secrets?.add(password);
  }
  return targets.map((target) => ({ ...target, url: target.url ?? '' }));
}

/**
 * Runs `work` on each item, at most `concurrency` at once, in order. With `stopOnFailure`, once an item fails (work
 * returns false) no new one starts; the running ones finish. Returns the items never started.
 */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<boolean | void>, stopOnFailure = false): Promise<T[]> {
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const item = items[next++]!;
      const ok = await work(item);
      if (ok === false && stopOnFailure) stopped = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return items.slice(next);
}

function settingsFor(settings: FleetRunSettings, target: ResolvedTarget): FleetRunSettings {
  const parts = parseDatabaseUrl(target.url, []) ?? {};
  return { ...settings, connection: { ...settings.connection, ...parts, url: target.url }, ledger: ledgerOf(settings, target) };
}

function ledgerOf(settings: FleetRunSettings, target: FleetTarget): FleetRunSettings['ledger'] {
  return target.schema === undefined ? settings.ledger : { ...settings.ledger, schema: target.schema, runSchema: target.schema };
}

function identify(target: FleetTarget): Pick<FleetTargetResult, 'name' | 'schema' | 'database'> {
  return {
    name: target.name,
    ...(target.schema !== undefined && { schema: target.schema }),
    ...(target.url ? { database: redactUrl(target.url) } : {}),
  };
}

function failed(target: FleetTarget, error: string, began: number): FleetTargetResult {
  return { ...identify(target), outcome: 'failed', migrations: [], ms: elapsed(began), error };
}

function targetLine(result: FleetTargetResult, direction: Direction): string {
  const done = direction === 'up' ? 'applied' : 'rolled back';
  switch (result.outcome) {
    case 'ok':
      return `  ✓ ${result.name}: ${result.migrations.length} ${done} in ${result.ms} ms`;
    case 'up to date':
      return `  = ${result.name}: up to date`;
    case 'failed':
      return `  ✗ ${result.name}: ${result.error}`;
    default:
      return `  - ${result.name}: not started (${result.error})`;
  }
}

function fleetTable(report: FleetReport): string {
  const names = (outcome: FleetOutcome) =>
    listed(
      report.targets.filter((result) => result.outcome === outcome).map((result) => result.name),
      6,
    );
  const rows = [
    ['outcome', 'targets', ''],
    [report.dryRun ? 'would migrate' : 'migrated', String(report.summary.ok), report.dryRun ? names('ok') : ''],
    ['up to date', String(report.summary.upToDate), ''],
    ['failed', String(report.summary.failed), names('failed')],
    ['not started', String(report.summary.skipped), names('skipped')],
  ];
  return [`Fleet done in ${report.ms} ms:`, ...formatTable(rows)].join('\n');
}

function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => `  ${row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')}`.trimEnd());
}

function progressLine(done: number, total: number, failedCount: number): string {
  return `Fleet: ${done}/${total} done${failedCount > 0 ? `, ${failedCount} failed` : ''}`;
}

function writeReport(file: string, report: FleetReport): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(temp, file);
}

async function queryControl<T extends object>(url: string, sql: string, flag: string): Promise<T[]> {
  return withClient(url, async (client) => {
    try {
      return (await client.query<T>(sql)).rows;
    } catch (error) {
      throw new TaskError(`${flag} failed on the database at ${redactUrl(url)}: ${messageOf(error)}`, {
        hint: `check the query (it runs on DATABASE_URL), e.g. ${flag === '--schemas' ? "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'" : 'SELECT slug AS name, dsn AS url FROM tenants'}`,
        cause: error,
      });
    }
  });
}

function describeSource({ fleet }: FleetRunSettings): string {
  if (fleet.targetsFile !== undefined) return `from ${path.basename(fleet.targetsFile)}`;
  if (fleet.targetsQuery !== undefined) return 'from --targets-query';
  return 'schemas of DATABASE_URL';
}

function firstLine(error: unknown, secrets?: Set<string>): string {
  const text = messageOf(error).split('\n')[0]!.trim();
  return secrets && secrets.size > 0 ? redactSecrets(text, secrets) : text;
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}

function listed(names: readonly string[], max = 10): string {
  return names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', ');
}

function count1(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}
