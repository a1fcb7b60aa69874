// Optional: Squawk (a PostgreSQL migration linter, Linux/macOS binaries on npm) on the SQL each migration renders, its
// findings merged with ours. Used when a `squawk` binary is on PATH or `@squawk-cli/<platform>` is installed; skipped
// quietly otherwise, or when it fails.
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../util/package-root';

/** One finding of `squawk --reporter json` (line and column are 0-based). */
export interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  level: 'Warning' | 'Error';
  message: string;
  help?: string | null;
  rule_name: string;
}

/** What Squawk is asked to check: one migration's rendered SQL. */
export interface SquawkInput {
  id: string;
  sql: string;
  /** node-pg-migrate runs it in a transaction (`--assume-in-transaction`). */
  inTransaction: boolean;
}

/**
 * Squawk rules that say what one of ours says; their findings are dropped in favour of ours, which know what the same
 * migration created and honour suppressions and `.pgmt-lint.json`.
 */
export const SQUAWK_DUPLICATES: Record<string, string> = {
  'require-concurrent-index-creation': 'create-index-not-concurrently',
  'ban-concurrent-index-creation-in-transaction': 'concurrently-in-transaction',
  'adding-required-field': 'add-column-not-null-without-default',
  'adding-field-with-default': 'add-column-volatile-default',
  'adding-foreign-key-constraint': 'constraint-without-not-valid',
  'constraint-missing-not-valid': 'constraint-without-not-valid',
  'changing-column-type': 'alter-column-type',
  'renaming-column': 'rename-column',
  'renaming-table': 'rename-table',
  'ban-drop-column': 'drop-column',
  'ban-drop-table': 'drop-table',
  'ban-drop-database': 'drop-database',
  'adding-not-nullable-field': 'set-not-null',
  'prefer-text-field': 'prefer-text',
  'require-timeout-settings': 'missing-lock-timeout',
  'transaction-nesting': 'transaction-control',
  'syntax-error': 'sql-syntax-error',
};

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@squawk-cli/linux-x64',
  'linux-arm64': '@squawk-cli/linux-arm64',
  'darwin-x64': '@squawk-cli/darwin-x64',
  'darwin-arm64': '@squawk-cli/darwin-arm64',
  'win32-x64': '@squawk-cli/win32-x64',
};

const found = new Map<string, string | undefined>();

/** The Squawk binary: `squawk` on PATH, else the platform package installed in the project or beside this package. */
export function findSquawk(projectDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (found.has(projectDir)) return found.get(projectDir);
  const binary = process.platform === 'win32' ? 'squawk.exe' : 'squawk';
  const candidates = (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, binary));
  const platformPackage = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (platformPackage) {
    for (const root of [projectDir, packageRoot()]) candidates.push(path.join(root, 'node_modules', platformPackage, 'bin', binary));
  }
  const result = candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  found.set(projectDir, result);
  return result;
}

/**
 * Runs Squawk once per transaction mode over every input (written to a temp folder) and returns its findings by input
 * id. Resolves to an empty map when Squawk fails or prints something that is not its JSON report.
 */
export async function runSquawk(binary: string, inputs: readonly SquawkInput[]): Promise<Map<string, SquawkViolation[]>> {
  const byId = new Map<string, SquawkViolation[]>();
  if (inputs.length === 0) return byId;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-squawk-'));
  try {
    const files = new Map<string, string>();
    inputs.forEach((input, index) => {
      const file = path.join(dir, `${index}.sql`);
      writeFileSync(file, input.sql);
      files.set(file, input.id);
    });
    for (const inTransaction of [true, false]) {
      const group = inputs
        .map((input, index) => ({ input, file: path.join(dir, `${index}.sql`) }))
        .filter(({ input }) => input.inTransaction === inTransaction);
      if (group.length === 0) continue;
      const args = ['--reporter', 'json', ...(inTransaction ? ['--assume-in-transaction'] : []), ...group.map(({ file }) => file)];
      const output = await new Promise<string>((resolve) => {
        // Exit code 1 only means "found something": read stdout whatever the code.
        execFile(binary, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (_error, stdout) => resolve(String(stdout ?? '')));
      });
      for (const violation of parseSquawkJson(output)) {
        const id = files.get(path.resolve(violation.file));
        if (!id) continue;
        const violations = byId.get(id);
        if (violations) violations.push(violation);
        else byId.set(id, [violation]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return byId;
}

/** Squawk's `--reporter json` output: a JSON array of violations; [] for anything else. */
export function parseSquawkJson(output: string): SquawkViolation[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output.trim() || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (item): item is SquawkViolation =>
      !!item &&
      typeof item === 'object' &&
      typeof item.rule_name === 'string' &&
      typeof item.message === 'string' &&
      typeof item.line === 'number' &&
      typeof item.column === 'number',
  );
}

/** Character offset of a 0-based line/column in a text. */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 0; current < line; current += 1) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  return Math.min(text.length, offset + column);
}
