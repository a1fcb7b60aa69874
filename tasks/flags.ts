import { parseArgs } from 'node:util';

/** Command-line flags as typed, before validation. Unknown flags are left to gulp-cli. */
export interface RawFlags {
  direction?: string;
  count?: string;
  provider?: string;
  timeout?: string;
  migrationsDir?: string;
  envFile?: string;
  singleTransaction?: boolean;
}

/** What `gulp --tasks` prints for each flag; tasks pick the ones they honour. */
export const FLAG_DESCRIPTIONS = {
  direction: '--direction up|down: which way to migrate (default: up)',
  count: '--count N|all: how many migrations to run (default: all up, 1 down)',
  provider: '--provider auto|embedded|docker|compose|external: how to get a database (default: DB_PROVIDER or auto)',
  timeout: '--timeout SECONDS: how long to wait for the database (default: DB_WAIT_TIMEOUT or 30)',
  migrationsDir: '--migrations-dir DIR: folder of migrations (default: MIGRATIONS_DIR or migrations)',
  envFile: '--env-file FILE: environment file to load (default: .env, if present)',
  singleTransaction: '--no-single-transaction: commit each migration on its own (default: one transaction for all)',
} as const;

export type FlagName = keyof typeof FLAG_DESCRIPTIONS;

/** Builds the `flags` object gulp-cli prints for a task. */
export function describeFlags(names: readonly FlagName[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const name of names) {
    const [usage, text] = FLAG_DESCRIPTIONS[name].split(': ', 2) as [string, string];
    flags[usage] = text;
  }
  return flags;
}

/** Parses the flags this package understands out of `argv` (without node and script), ignoring the rest. */
export function parseFlags(argv: readonly string[]): RawFlags {
  const { values } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    options: {
      direction: { type: 'string' },
      count: { type: 'string' },
      provider: { type: 'string' },
      timeout: { type: 'string' },
      'migrations-dir': { type: 'string' },
      'env-file': { type: 'string' },
      'single-transaction': { type: 'boolean' },
    },
  });
  const text = (value: unknown) => (value === undefined ? undefined : String(value === true ? '' : value));
  const flag = (value: unknown) => (typeof value === 'boolean' ? value : undefined);
  return {
    direction: text(values.direction),
    count: text(values.count),
    provider: text(values.provider),
    timeout: text(values.timeout),
    migrationsDir: text(values['migrations-dir']),
    envFile: text(values['env-file']),
    singleTransaction: flag(values['single-transaction']),
  };
}
