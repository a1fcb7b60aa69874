import { readFileSync } from 'node:fs';
import path from 'node:path';

/** PostgreSQL's limit for an identifier, in bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER = 63;

/**
 * The role and database names a project's throw-away databases get when DB_USER / DB_NAME are not set: its
 * package.json name as a PostgreSQL identifier (`@acme/billing-api` → `billing_api`), so that two projects' kept
 * databases and logs are told apart. Undefined when the folder has no package.json with a usable name.
 * @example projectNames('/src/billing-api') // { database: 'billing_api', user: 'billing_api' }
 */
export function projectNames(projectDir: string): { database: string; user: string } | undefined {
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
  const identifier = typeof name === 'string' ? toIdentifier(name) : undefined;
  return identifier ? { database: identifier, user: identifier } : undefined;
}

/**
 * `@scope/My-App.v2` → `my_app_v2`: lower case letters, digits and _, starting with a letter, at most 63 bytes, and
 * not starting with `pg_` (PostgreSQL reserves those role names: `pg-api` → `api`).
 */
export function toIdentifier(packageName: string): string | undefined {
  const identifier = packageName
    .replace(/^@[^/]*\//, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^([^a-z]|pg_)+/, '')
    .replace(/_+$/, '')
    .slice(0, MAX_IDENTIFIER);
  return identifier || undefined;
}
