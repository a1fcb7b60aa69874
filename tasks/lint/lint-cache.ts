// The lint cache: each file's own findings on disk, keyed by everything they depend on, so that `gulp lint` and
// migrate's pre-flight skip the files that did not change. A run where every file is a hit loads neither the
// TypeScript compiler, nor the WASM SQL parser, nor any migration. Folder-level findings (duplicate timestamps, order)
// are never kept: they depend on the other files and are cheap.
//
// One index file per migrations folder and mode (type-checked or syntax only, so that `gulp lint` and the pre-flight do
// not evict each other), in node_modules/.cache/pg-migrate-tasks/lint/. Written only when something changed, whole,
// to a temporary file renamed into place: a reader never sees half a file, and two concurrent runs at worst lose each
// other's new entries (a miss next time), never mix them up. Anything unreadable is a miss. Deleting it is always safe.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../util/package-root';
import type { Directive } from './suppressions';
import type { Diagnostic } from './types';

/** Bumped when the index's shape or the meaning of an entry changes: older index files are then ignored. */
const CACHE_FORMAT = 1;
/** Index files of other folders not written for this long are removed (test projects, renamed folders). */
const STALE_INDEX_MS = 7 * 24 * 60 * 60 * 1_000;
/** A temporary file this old was left by a run that died before its rename. */
const STALE_TEMP_MS = 60 * 60 * 1_000;
/** The engine's tools whose versions change what a file's findings are. */
const TOOLS = ['typescript', 'node-pg-migrate', 'libpg-query'];

/** What the cache keeps for one file. */
export interface CachedFile {
  /**
   * The findings of the file's own rules (file-level rules but the folder-level ones, SQL rules, Squawk), suppression
   * comments applied, severities of `.pgmt-lint.json` not yet applied (they are applied on every run).
   */
  findings: Diagnostic[];
  /** The file's `lint-ignore` comments: the folder-level findings, made fresh on every run, are matched against them. */
  directives: Directive[];
}

export interface LintCacheOptions {
  /** The cache folder. */
  dir: string;
  /** Absolute; messages and the type checker depend on it. */
  projectDir: string;
  /** Absolute; names the index file. */
  migrationsDir: string;
  /** Type-checked findings and syntax-only ones are kept apart. */
  typeCheck: boolean;
  /** The Squawk binary when it runs (its findings are kept too): a new binary makes every entry stale. */
  squawk?: string;
  /**
   * Texts that change every TS file's type errors when they change (migrations with `declare global`): part of every
   * key when type-checking.
   */
  globals?: readonly string[];
}

interface StoredEntry extends CachedFile {
  key: string;
}

interface IndexDocument {
  format: number;
  projectDir: string;
  migrationsDir: string;
  typeCheck: boolean;
  /** The `.d.ts` files the project's tsconfig.json includes, as the last type check found them (see `save`). */
  declarations: string[];
  entries: Record<string, StoredEntry>;
}

/**
 * The cache folder for a project: `node_modules/.cache/pg-migrate-tasks/lint` in the nearest `node_modules` at or above
 * it, where tools keep their caches (the same lookup as the cluster templates'); undefined when there is none, and
 * nothing is cached.
 */
export function defaultLintCacheDir(projectDir: string): string | undefined {
  for (let dir = path.resolve(projectDir); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'pg-migrate-tasks', 'lint');
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Per-file lint results of earlier runs. `key()` names what a file's findings depend on; `get()` answers only for an
 * entry stored under that exact key; `set()` then `save()` keep new ones.
 * @example const cache = LintCache.open({ dir, projectDir, migrationsDir, typeCheck: true });
 *          const key = cache.key(file, text, [shorthandsHash]); const hit = key && cache.get(file, key);
 */
export class LintCache {
  readonly #options: LintCacheOptions;
  readonly #indexFile: string;
  readonly #stored: Record<string, StoredEntry>;
  readonly #declarations: string[];
  readonly #environment: string;
  readonly #updates = new Map<string, StoredEntry>();
  /** Per key this run made: what it hashes besides the environment (to re-key new entries, see `save`). */
  readonly #ownParts = new Map<string, string>();
  readonly #versions = new Map<string, string>();

  private constructor(options: LintCacheOptions) {
    this.#options = options;
    this.#indexFile = indexFile(options);
    const stored = readIndex(this.#indexFile, options);
    this.#stored = stored?.entries ?? {};
    this.#declarations = stored?.declarations ?? [];
    this.#environment = this.#computeEnvironment(this.#declarations);
  }

  /** Reads the index of this folder and mode (an empty cache when it is missing, unreadable or of another format). */
  static open(options: LintCacheOptions): LintCache {
    return new LintCache(options);
  }

  /**
   * The key of a file's findings: its path and text, everything the whole run shares (the linter's own code, the
   * tools' versions, Node's, the mode, the tsconfig chain when type-checking, Squawk), the versions of the packages it
   * imports, and `extra` (the caller's: the shorthands of earlier migrations). Undefined when the file must be linted
   * every time: a relative or absolute import (its findings depend on another file), or `declare global` (other files'
   * type errors depend on it, so it stays in every type check).
   */
  key(file: string, text: string, extra: readonly string[] = []): string | undefined {
    const imports = importedPackages(text);
    if (!imports) return undefined;
    if (this.#options.typeCheck && declaresGlobals(text)) return undefined;
    const from = path.dirname(file);
    const versions = imports.map(
      (name) => `${name}@${this.#version(name, from)}${this.#options.typeCheck ? `+${this.#version(typesPackage(name), from)}` : ''}`,
    );
    const own = hash(JSON.stringify([file, hash(text), versions, extra]));
    const key = hash(`${this.#environment}\0${own}`);
    this.#ownParts.set(key, own);
    return key;
  }

  /** The entry stored for `file` under exactly `key` (this run's or an earlier one's), when it is well-formed. */
  get(file: string, key: string): CachedFile | undefined {
    const entry = this.#updates.get(file) ?? (Object.hasOwn(this.#stored, file) ? this.#stored[file] : undefined);
    if (!entry || entry.key !== key || !isCachedFile(entry)) return undefined;
    return { findings: entry.findings, directives: entry.directives };
  }

  set(file: string, key: string, value: CachedFile): void {
    this.#updates.set(file, { key, findings: value.findings, directives: value.directives });
  }

  /**
   * Writes the index when this run added entries: merged with what another run may have written meanwhile, without the
   * files that are gone; removes other folders' index files unused for a week. Never throws (a cache that cannot be
   * written is only slower).
   * @param declarations the `.d.ts` files the type check of this run read (when it ran): their changes make the
   *   type-checked entries stale from the next run on
   */
  save({ declarations }: { declarations?: readonly string[] } = {}): void {
    const declarationsChanged = declarations !== undefined && JSON.stringify([...declarations].sort()) !== JSON.stringify([...this.#declarations].sort());
    if (this.#updates.size === 0 && !declarationsChanged) return;
    try {
      mkdirSync(this.#options.dir, { recursive: true });
      const current = readIndex(this.#indexFile, this.#options);
      const entries: Record<string, StoredEntry> = {};
      for (const [file, entry] of Object.entries(current?.entries ?? this.#stored)) if (!this.#updates.has(file) && existsSync(file)) entries[file] = entry;
      // The type check of this run read other declaration files than the last one: what it found is keyed by those.
      const environment = declarationsChanged ? this.#computeEnvironment([...declarations].sort()) : undefined;
      for (const [file, entry] of this.#updates) {
        const own = this.#ownParts.get(entry.key);
        entries[file] = environment && own ? { ...entry, key: hash(`${environment}\0${own}`) } : entry;
      }
      const document: IndexDocument = {
        format: CACHE_FORMAT,
        projectDir: this.#options.projectDir,
        migrationsDir: this.#options.migrationsDir,
        typeCheck: this.#options.typeCheck,
        declarations: [...(declarations ?? this.#declarations)].sort(),
        entries,
      };
      const temporary = `${this.#indexFile}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      writeFileSync(temporary, JSON.stringify(document));
      renameSync(temporary, this.#indexFile);
      this.#removeStale();
    } catch {
      // A read-only or full disk: the next run lints these files again.
    }
  }

  /** Everything every key shares. */
  #computeEnvironment(declarations: readonly string[]): string {
    const { projectDir, typeCheck, squawk, globals = [] } = this.#options;
    const tools = TOOLS.map((name) => `${name}@${packageVersion(name, packageRoot())}`);
    // node-pg-migrate loads migrations with its own jiti.
    tools.push(`jiti@${packageVersion('jiti', packageDir('node-pg-migrate', packageRoot()) ?? packageRoot())}`);
    const typed = typeCheck
      ? [
          tsconfigChain(projectDir),
          `@types/node@${packageVersion('@types/node', projectDir)}/${packageVersion('@types/node', packageRoot())}`,
          declarations.map((file) => `${file}:${fileStamp(file)}`),
          globals.map(hash),
        ]
      : [];
    return hash(
      JSON.stringify([
        CACHE_FORMAT,
        process.version,
        linterSourceHash(),
        tools,
        projectDir,
        typeCheck,
        squawk ? `${squawk}:${fileStamp(squawk)}` : 'no-squawk',
        typed,
      ]),
    );
  }

  #version(name: string, from: string): string {
    const id = `${from}\0${name}`;
    let version = this.#versions.get(id);
    if (version === undefined) {
      version = packageVersion(name, from);
      this.#versions.set(id, version);
    }
    return version;
  }

  /** Removes other folders' index files that are unused for a week or whose folder is gone, and abandoned temporary files. */
  #removeStale(): void {
    const now = Date.now();
    for (const name of readdirSync(this.#options.dir)) {
      const file = path.join(this.#options.dir, name);
      if (file === this.#indexFile) continue;
      try {
        const age = now - statSync(file).mtimeMs;
        const stale = name.endsWith('.json') ? age > STALE_INDEX_MS || folderGone(file) : name.endsWith('.tmp') && age > STALE_TEMP_MS;
        if (stale) rmSync(file, { force: true });
      } catch {
        // Removed by another run meanwhile.
      }
    }
  }
}

/**
 * The index files of one migrations folder (type-checked and syntax only), whether or not they exist: removing them
 * empties its cache (a bench that measures a cold run does).
 */
export function lintCacheFiles({ dir, projectDir, migrationsDir }: Pick<LintCacheOptions, 'dir' | 'projectDir' | 'migrationsDir'>): string[] {
  return [true, false].map((typeCheck) => indexFile({ dir, projectDir: path.resolve(projectDir), migrationsDir: path.resolve(migrationsDir), typeCheck }));
}

function indexFile({ dir, projectDir, migrationsDir, typeCheck }: Pick<LintCacheOptions, 'dir' | 'projectDir' | 'migrationsDir' | 'typeCheck'>): string {
  const id = hash(JSON.stringify([projectDir, migrationsDir])).slice(0, 20);
  return path.join(dir, `${id}-${typeCheck ? 'typed' : 'syntax'}.json`);
}

/** Whether an index file's migrations folder no longer exists (a removed test or bench project): read from its head. */
function folderGone(file: string): boolean {
  const head = Buffer.alloc(4_096);
  const fd = openSync(file, 'r');
  let length: number;
  try {
    length = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const match = /"migrationsDir":("(?:[^"\\]|\\.)*")/.exec(head.toString('utf8', 0, length));
  if (!match) return false;
  try {
    return !existsSync(JSON.parse(match[1]!) as string);
  } catch {
    return false;
  }
}

function readIndex(file: string, options: LintCacheOptions): IndexDocument | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const document = parsed as Partial<IndexDocument> | null;
  if (!document || typeof document !== 'object' || document.format !== CACHE_FORMAT || document.typeCheck !== options.typeCheck) return undefined;
  if (document.projectDir !== options.projectDir || document.migrationsDir !== options.migrationsDir) return undefined;
  if (!document.entries || typeof document.entries !== 'object' || Array.isArray(document.entries)) return undefined;
  const declarations = Array.isArray(document.declarations) && document.declarations.every((entry) => typeof entry === 'string') ? document.declarations : [];
  return { ...(document as IndexDocument), declarations };
}

const SEVERITIES = new Set(['error', 'warning', 'info']);

/** Whether a stored entry has the shape the engine relies on (a hand-edited or truncated one is a miss). */
function isCachedFile(entry: unknown): entry is CachedFile {
  const { findings, directives } = (entry ?? {}) as Partial<CachedFile>;
  if (!Array.isArray(findings) || !Array.isArray(directives)) return false;
  const isDiagnostic = (value: unknown) => {
    const diagnostic = value as Partial<Diagnostic> | null;
    return (
      !!diagnostic &&
      typeof diagnostic.ruleId === 'string' &&
      typeof diagnostic.message === 'string' &&
      typeof diagnostic.hint === 'string' &&
      typeof diagnostic.file === 'string' &&
      SEVERITIES.has(diagnostic.severity as string) &&
      (diagnostic.source === 'pg-migrate-tasks' || diagnostic.source === 'squawk') &&
      (diagnostic.line === undefined || typeof diagnostic.line === 'number') &&
      (diagnostic.column === undefined || typeof diagnostic.column === 'number')
    );
  };
  const isDirective = (value: unknown) => {
    const directive = value as Partial<Directive> | null;
    const strings = (list: unknown) => Array.isArray(list) && list.every((item) => typeof item === 'string');
    return (
      !!directive &&
      strings(directive.ids) &&
      typeof directive.fileWide === 'boolean' &&
      strings(directive.targetKeys) &&
      Array.isArray(directive.targetLines) &&
      directive.targetLines.every((line) => typeof line === 'number')
    );
  };
  return findings.every(isDiagnostic) && directives.every(isDirective);
}

/** A sha256, hex. */
export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`, `require('x')`: the module names. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"`])([^'"`\n]+)\1/g;

/**
 * The packages a migration imports (sorted, without Node's built-ins), or undefined when it imports a file by path
 * (`./helpers`, `../lib/x`, `/abs/x`): its findings then depend on that file. Reads the text, not the syntax tree, so
 * an import in a comment counts too (at worst a needless miss).
 */
export function importedPackages(text: string): string[] | undefined {
  const names = new Set<string>();
  for (const [, , specifier] of text.matchAll(IMPORT)) {
    if (specifier!.startsWith('.') || specifier!.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier!)) return undefined;
    if (specifier!.startsWith('node:')) continue;
    const parts = specifier!.split('/');
    names.add(specifier!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
  }
  return [...names].filter((name) => !BUILTINS.has(name)).sort();
}

const BUILTINS: ReadonlySet<string> = new Set(builtinModules);

/** Whether a migration declares globals (`declare global`, `declare module '…'`): every TS file's type errors may depend on it. */
export function declaresGlobals(text: string): boolean {
  return /\bdeclare\s+(global\b|module\s+['"])/.test(text);
}

/** The `@types/…` package for a package's types (`@scope/name` → `@types/scope__name`). */
function typesPackage(name: string): string {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
}

/** Where Node would find package `name` from `from`: the nearest `node_modules/<name>` at or above it. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The version of package `name` as resolved from `from`, or `missing`. */
export function packageVersion(name: string, from: string): string {
  const dir = packageDir(name, from);
  if (!dir) return 'missing';
  try {
    const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unversioned';
  } catch {
    return 'unreadable';
  }
}

/** Size and modification time, or `missing`. */
function fileStamp(file: string): string {
  try {
    const stat = statSync(file);
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The tsconfig.json the type checker uses (found upwards from the project, as TypeScript's `findConfigFile` does) and
 * the configs it extends: their text (a package's config: its version).
 */
function tsconfigChain(projectDir: string): string[] {
  let found: string | undefined;
  for (let dir = projectDir; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'tsconfig.json'))) {
      found = path.join(dir, 'tsconfig.json');
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  const chain: string[] = [];
  const visit = (file: string, depth: number) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      chain.push(`${file}:missing`);
      return;
    }
    chain.push(`${file}:${hash(text)}`);
    if (depth >= 8) return;
    for (const parent of extendsOf(text)) {
      if (parent.startsWith('.') || path.isAbsolute(parent)) {
        const target = path.resolve(path.dirname(file), parent);
        visit(existsSync(target) || target.endsWith('.json') ? target : `${target}.json`, depth + 1);
      } else {
        const parts = parent.split('/');
        const name = parent.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        chain.push(`${parent}@${packageVersion(name, path.dirname(file))}`);
      }
    }
  };
  if (found) visit(found, 0);
  else chain.push('no tsconfig.json');
  return chain;
}

/** The `extends` of a tsconfig's text (a string or a list), read without a JSONC parser. */
function extendsOf(text: string): string[] {
  const match = /"extends"\s*:\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\])/.exec(text);
  if (!match) return [];
  try {
    const value = JSON.parse(match[1]!) as unknown;
    return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
  } catch {
    return [match[1]!];
  }
}

let sourceHash: string | undefined;

/**
 * A hash of the linter's own code: tasks/lint/index.ts and every module of this package it imports, transitively
 * (type-only imports aside). An upgrade, or an edit while developing the linter, makes every entry stale.
 */
export function linterSourceHash(): string {
  if (sourceHash) return sourceHash;
  const seen = new Set<string>();
  const queue = [path.join(__dirname, 'index')];
  const digest = createHash('sha256');
  const files: [string, string][] = [];
  while (queue.length > 0) {
    const file = resolveSource(queue.pop()!);
    if (!file || seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    files.push([path.relative(packageRoot(), file), text]);
    for (const [statement, specifier] of localImports(text))
      if (!/^(?:import|export)\s+type\b/.test(statement)) queue.push(path.resolve(path.dirname(file), specifier));
  }
  for (const [name, text] of files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) digest.update(`${name}\0${text}\0`);
  sourceHash = digest.digest('hex');
  return sourceHash;
}

/** Relative imports of one of our modules: `[statement, specifier]`. */
function localImports(text: string): [string, string][] {
  const found: [string, string][] = [];
  for (const match of text.matchAll(/^\s*((?:import|export)\b[^;]*?\bfrom\s*)['"](\.{1,2}\/[^'"]+)['"]/gm)) found.push([match[1]!.trim(), match[2]!]);
  for (const match of text.matchAll(/\b(?:require|import)\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) found.push(['require', match[1]!]);
  return found;
}

function resolveSource(base: string): string | undefined {
  for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Next candidate.
    }
  }
  return undefined;
}
