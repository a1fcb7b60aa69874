import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loaderMessage } from '../sources/render-sql';
import { compileStripped, stripTypes } from './strip-types';

type MigrationLoader = import('node-pg-migrate/migrationLoader').MigrationLoader;
type Jiti = NonNullable<Parameters<typeof import('node-pg-migrate/migrationLoader').createDefaultMigrationLoader>[0]>;
type CreateJiti = (id: string, options: { moduleCache: boolean; fsCache?: boolean }) => Jiti;

export type LoadResult =
  | { ok: true; exports: Record<string, unknown> }
  /** line/column: where in the file it failed, when the error tells (see `failurePosition`). */
  | { ok: false; message: string; line?: number; column?: number };

export interface LoadOptions {
  /** The file's text, when the caller has read it already. */
  text?: string;
  /**
   * Load a TypeScript migration that needs nothing at run time but its own code with its types blanked out instead of
   * through jiti (see ./strip-types): the same exports and stack lines, without jiti's Babel transform. For the
   * linter; default false (what runs migrations loads them exactly as node-pg-migrate does).
   */
  stripTypes?: boolean;
}

let loader: Promise<MigrationLoader> | undefined;

/**
 * Loads a .ts/.js migration the way node-pg-migrate's runner does (its default loader: jiti, created from the current
 * directory), but fresh on every call. node-pg-migrate's own jiti instance caches modules for the life of the process,
 * so in a watcher it would keep returning the file as it was at the first load; this one has jiti's module cache off
 * (its transpile cache on disk stays on). Loading runs the module's top-level code, as `gulp migrate` would.
 */
export async function loadMigrationModule(file: string, { text, stripTypes = false }: LoadOptions = {}): Promise<LoadResult> {
  const stripped = stripTypes ? strippedModule(file, text) : undefined;
  if (stripped) {
    try {
      return { ok: true, exports: stripped() };
    } catch (error) {
      const message = loaderMessage(error);
      return { ok: false, message, ...failurePosition(file, error, message) };
    }
  }
  try {
    const [unit] = await (await prepareLoader())([file]);
    return { ok: true, exports: (unit?.actions ?? {}) as unknown as Record<string, unknown> };
  } catch (error) {
    const message = loaderMessage(error);
    return { ok: false, message, ...failurePosition(file, error, message) };
  }
}

/**
 * A TypeScript migration that needs nothing at run time but its own code, compiled with its types blanked out (see
 * ./strip-types): ~0.3 ms instead of jiti's ~10 ms transform on a file it has not seen. Undefined for every other file.
 */
function strippedModule(file: string, text: string | undefined): (() => Record<string, unknown>) | undefined {
  let source = text;
  try {
    source ??= readFileSync(file, 'utf8');
    const code = stripTypes(file, source);
    return code === undefined ? undefined : compileStripped(file, code);
  } catch {
    return undefined;
  }
}

/** Creates the loader once (imports node-pg-migrate's loader module and jiti). */
export function prepareLoader(): Promise<MigrationLoader> {
  if (!loader) {
    loader = createLoader();
    loader.catch(() => (loader = undefined)); // tried again on the next call
  }
  return loader;
}

/**
 * For a watcher: jiti loads its TypeScript transform (~150 ms) on the first file it has not transpiled before; pay
 * that at start-up, with a throw-away module, rather than on the first save. A one-shot run skips this: files whose
 * transpiled form is in jiti's disk cache never need the transform.
 */
export async function warmUpTransform(): Promise<void> {
  const probe = (await jitiFactory())(process.cwd(), { moduleCache: false, fsCache: false });
  probe.evalModule('export const up = (pgm: unknown): void => undefined;', {
    filename: path.join(process.cwd(), '__pgmt_lint_warm_up__.ts'),
    ext: '.ts',
    async: false,
    forceTranspile: true,
  });
}

async function createLoader(): Promise<MigrationLoader> {
  const [{ createDefaultMigrationLoader }, createJiti] = await Promise.all([import('node-pg-migrate/migrationLoader'), jitiFactory()]);
  return createDefaultMigrationLoader(createJiti(process.cwd(), { moduleCache: false }));
}

/** jiti is node-pg-migrate's dependency: resolved from node-pg-migrate, so that it is the same copy. */
async function jitiFactory(): Promise<CreateJiti> {
  const fromNodePgMigrate = createRequire(require.resolve('node-pg-migrate/package.json'));
  return (fromNodePgMigrate('jiti') as { createJiti: CreateJiti }).createJiti;
}

/**
 * Where the load failed in `file`: jiti's parse errors end with `file:line:column` (0-based column, from its parser on
 * the original source); an error thrown at import has `file:line:column` in its stack, where jiti's transform keeps
 * lines but not columns (type annotations are stripped), so only the line is taken.
 */
export function failurePosition(file: string, error: unknown, message: string): { line?: number; column?: number } {
  const at = (text: string) => new RegExp(`${escapeRegExp(file)}:(\\d+):(\\d+)`).exec(text);
  const parsed = /ParseError/.test(message) ? at(message) : null;
  if (parsed) return { line: Number(parsed[1]), column: Number(parsed[2]) + 1 };
  const stack = error instanceof Error ? error.stack : undefined;
  const thrown = stack ? at(stack.split('\n').slice(1).join('\n')) : null;
  return thrown ? { line: Number(thrown[1]) } : {};
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
