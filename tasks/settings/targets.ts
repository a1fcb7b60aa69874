import { readFileSync } from 'node:fs';
import path from 'node:path';
import { messageOf } from '../util/errors';

/** One database of a fleet, as its file names it: its URL, or why it has none (an unset variable). */
export interface FleetTarget {
  /** The name it is reported under (unique in the fleet). */
  name: string;
  /** Its connection URL (holds a password: print it with redactUrl). Absent when `problem` says why. */
  url?: string;
  /** A schema of that database (`--schemas`): migrated with its own ledger in it. */
  schema?: string;
  /** Why it cannot be migrated (e.g. `TENANT_A_URL is not set`): reported as a failed target, the others go on. */
  problem?: string;
}

export interface TargetsFile {
  targets: FleetTarget[];
  /** Names of the targets whose URL in the file holds a password (the file is committed: use "env" instead). */
  withPassword: string[];
}

/** A schema name node-pg-migrate can use as `schema` and the ledger's schema without quoting surprises. */
export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Reads a fleet's targets file: a JSON array of `{ "name": …, "url": … }` or `{ "name": …, "env": "VARIABLE" }` (the
 * variable holds the URL, so no password needs to be in the committed file). Problems of the file itself (not JSON,
 * not an array, a missing or duplicate name, neither url nor env) are returned for the settings to report all at once;
 * an unset variable makes that one target fail when the fleet runs, not the whole command.
 * @example const { targets } = readTargetsFile('/app/targets.json', (name) => process.env[name], problems);
 */
export function readTargetsFile(file: string, get: (name: string) => string | undefined, problems: string[]): TargetsFile {
  const shown = path.basename(file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(
      code === 'ENOENT'
        ? `--targets ${file}: no such file`
        : error instanceof SyntaxError
          ? `--targets ${shown} is not valid JSON (${error.message})`
          : `--targets ${shown} could not be read (${messageOf(error)})`,
    );
    return { targets: [], withPassword: [] };
  }
  if (!Array.isArray(parsed)) {
    problems.push(`--targets ${shown} must hold a JSON array of { "name": …, "url": … } or { "name": …, "env": "VARIABLE" }`);
    return { targets: [], withPassword: [] };
  }
  const targets: FleetTarget[] = [];
  const withPassword: string[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, index) => {
    const where = `--targets ${shown}, entry ${index + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return problems.push(`${where} must be an object with "name" and "url" or "env"`);
    const { name, url, env, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) return problems.push(`${where} has unknown key${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (name, url, env)`);
    if (typeof name !== 'string' || name.trim() === '') return problems.push(`${where} needs a "name" (a non-empty string)`);
    if (seen.has(name)) return problems.push(`${where}: the name "${name}" is used twice`);
    seen.add(name);
    if ((url === undefined) === (env === undefined)) return problems.push(`${where} ("${name}") needs exactly one of "url" and "env"`);
    if (url !== undefined) {
      if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url))
        return problems.push(`${where} ("${name}"): "url" must be a postgres:// URL (or use "env" with the name of a variable that holds it)`);
      if (hasPassword(url)) withPassword.push(name);
      return targets.push({ name, url });
    }
    if (typeof env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env))
      return problems.push(`${where} ("${name}"): "env" must be the name of an environment variable`);
    const value = get(env);
    return targets.push(value === undefined ? { name, problem: `${env} is not set (the environment variable its "env" names)` } : { name, url: value });
  });
  if (targets.length === 0 && problems.length === 0) problems.push(`--targets ${shown} lists no targets`);
  return { targets, withPassword };
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}
