import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TaskError, messageOf } from '../util/errors';

/** The committed exceptions of migrate:verify, beside the project's other settings. */
export const VERIFY_EXCEPTIONS_FILE = '.pgmt-verify.json';

/** What migrate:verify accepts of one migration (or, at the top level, of every migration), and why. */
export interface VerifyException {
  /** Its down cannot reverse its up, on purpose (a data migration, a one-way change): it is not rolled back. */
  irreversible?: boolean;
  /**
   * What its down may leave behind: kinds (`extension`, `index`, …) or exact subjects as verify names them
   * (`extension "vector"`, `index "users_email_idx" on users`).
   */
  leaves?: string[];
  /** Why, shown when it is reported as accepted. */
  reason?: string;
}

export interface VerifyExceptions {
  /** Applies to every migration (e.g. `{ "leaves": ["extension"] }`: downs keep extensions installed). */
  all?: VerifyException;
  /** By migration name (without extension). */
  migrations: Record<string, VerifyException>;
}

/**
 * The project's `.pgmt-verify.json` (`{ "leaves": [...], "reason": …, "migrations": { "<name>": { "irreversible": true,
 * "reason": … } } }`), or none. A file that cannot be read or is malformed is a TaskError naming it.
 * @example const exceptions = readVerifyExceptions('/app'); exceptions.migrations['1700_enable_vector']?.leaves
 */
export function readVerifyExceptions(projectDir: string): VerifyExceptions {
  const file = path.join(projectDir, VERIFY_EXCEPTIONS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { migrations: {} };
    throw new TaskError(`could not read ${VERIFY_EXCEPTIONS_FILE}: ${messageOf(error)}`, { hint: 'make it readable, or remove it', cause: error });
  }
  const fail = (why: string) =>
    new TaskError(`${VERIFY_EXCEPTIONS_FILE} ${why}`, {
      hint: 'write { "leaves": ["extension"], "migrations": { "<migration name>": { "irreversible": true, "reason": "…" } } } (every key optional)',
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail(`is not valid JSON (${messageOf(error)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('must hold an object');
  const { migrations = {}, ...all } = parsed as { migrations?: unknown } & VerifyException;
  if (typeof migrations !== 'object' || migrations === null || Array.isArray(migrations)) throw fail('"migrations" must be an object keyed by migration name');
  const check = (where: string, entry: unknown): VerifyException => {
    if (typeof entry !== 'object' || entry === null) throw fail(`${where} must be an object`);
    const { irreversible, leaves, reason, ...rest } = entry as VerifyException & Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw fail(`${where} has unknown key${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} (irreversible, leaves, reason)`);
    if (irreversible !== undefined && typeof irreversible !== 'boolean') throw fail(`${where}.irreversible must be true or false`);
    if (leaves !== undefined && (!Array.isArray(leaves) || leaves.some((item) => typeof item !== 'string')))
      throw fail(`${where}.leaves must be a list of strings`);
    if (reason !== undefined && typeof reason !== 'string') throw fail(`${where}.reason must be a string`);
    // Only the keys given: a migration's entry without a reason keeps the top level's when the two are merged.
    return { ...(irreversible !== undefined && { irreversible }), ...(leaves !== undefined && { leaves }), ...(reason !== undefined && { reason }) };
  };
  const top = Object.keys(all).length > 0 ? check('the top level', all) : undefined;
  if (top?.irreversible !== undefined)
    throw fail('marks every migration irreversible at the top level: "irreversible" belongs to one migration, under "migrations": { "<name>": { … } }');
  return {
    ...(top ? { all: top } : {}),
    migrations: Object.fromEntries(Object.entries(migrations as Record<string, unknown>).map(([name, entry]) => [name, check(`"${name}"`, entry)])),
  };
}

/** Whether a difference (as verify names it, e.g. `extension "vector"`) is something `leaves` accepts. */
export function leavesAccepts(leaves: readonly string[] | undefined, subject: string): boolean {
  return (leaves ?? []).some((accepted) => subject === accepted || subject.startsWith(`${accepted} `));
}
