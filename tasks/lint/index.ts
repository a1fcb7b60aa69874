// The migration linter's public API (the gulp plugin, `gulp lint`, the watcher and migrate's pre-flight use it): the
// file-level rules (./file-rules), the SQL rules on what each migration renders (./sql-rules), optional Squawk
// findings, then suppression comments and the project's `.pgmt-lint.json` applied. Each file's own findings are kept
// in the lint cache (./lint-cache), so that a run lints only the files that changed.
import path from 'node:path';
import { TaskError } from '../util/errors';
import { readMigrationFolder } from '../sources/migration-folder';
import { checkFolderRules, checkOwnRules, FILE_RULES } from './file-rules';
import { declaresGlobals, defaultLintCacheDir, hash, LintCache, type CachedFile } from './lint-cache';
import { closest, readLintConfig, unknownRule } from './lint-config';
import type { LoadResult } from './load-migration';
import {
  isFile,
  loadErrorMessage,
  loadMigrationActions,
  migrationSql,
  readText,
  SCRIPT_EXTENSIONS,
  snippet,
  type MigrationSql,
  type SourceLocation,
} from './migration-sql';
import { loadSqlParser } from './sql-parser';
import { checkStatements, SQL_RULES } from './sql-rules';
import { findSquawk, offsetOf, runSquawk, SQUAWK_DUPLICATES, type SquawkInput } from './squawk';
import { isSuppressed, scriptDirectives, sqlDirectives, type Directive } from './suppressions';
import { checkedDeclarations } from './typescript-check';
import type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './types';

type MigrationBuilderActions = import('node-pg-migrate/sqlMigration').MigrationBuilderActions;

export type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './types';
export { CONFIG_FILE } from './lint-config';

/** Rules of the engine itself: problems with suppressions and the config file. */
const ENGINE_RULES: RuleMeta[] = [
  { id: 'unknown-rule', defaultSeverity: 'error', description: 'a lint-ignore comment or .pgmt-lint.json names a rule id that does not exist' },
  { id: 'invalid-config', defaultSeverity: 'error', description: '.pgmt-lint.json is not valid JSON or has a value of the wrong kind' },
  // Reported by the file-level rules; listed here too in case they do not (the engine reports modules it cannot load).
  ...(FILE_RULES.some((rule) => rule.id === 'load-error')
    ? []
    : [{ id: 'load-error', defaultSeverity: 'error' as const, description: 'node-pg-migrate cannot load the file' }]),
];

/** Every rule, with its default severity (file-level and SQL-level). */
export const RULES: RuleMeta[] = dedupe([...FILE_RULES, ...SQL_RULES, ...ENGINE_RULES]);

const RULE_IDS = RULES.map((rule) => rule.id);
const DEFAULTS = new Map(RULES.map((rule) => [rule.id, rule.defaultSeverity]));
const SQUAWK_PREFIX = 'squawk/';
const SOURCE = 'pg-migrate-tasks' as const;

const isKnownRule = (id: string) => DEFAULTS.has(id) || (id.startsWith(SQUAWK_PREFIX) && id.length > SQUAWK_PREFIX.length);
const closestRule = (id: string) => closest(id, RULE_IDS);

/** A diagnostic on its way through the engine: what suppression comments can match it by. */
interface Finding extends Diagnostic {
  anchorLines?: number[];
  statementKey?: string;
}

/**
 * Lints the given migration files: file-level checks (name, exports, load/syntax/type errors), folder-level checks
 * that involve them (duplicate timestamps, a new file older than the newest), and SQL rules on the SQL each one
 * renders, with suppressions and the project's `.pgmt-lint.json` applied. One result per file, in the order given,
 * diagnostics sorted by line; when the config file itself has problems, one more result for it comes last. Never
 * throws for a broken file (that is a diagnostic). A file unchanged since an earlier run (same text, same tools and
 * settings; see ./lint-cache) takes its own findings from the cache unless `options.cache` is false; the folder-level
 * checks and the config's severities are applied on every run.
 * @param newFiles files that are new (e.g. the watcher's `add` events), for the out-of-order rule; default: files git
 *   does not track yet
 * @example const [result] = await lintMigrationFiles(['migrations/1732500005000_add_index.ts'], { migrationsDir: 'migrations', projectDir: '.' })
 *          result.diagnostics // [{ ruleId: 'create-index-not-concurrently', severity: 'error', line: 5, column: 3, … }]
 */
export async function lintMigrationFiles(files: string[], options: LintOptions & { newFiles?: string[] }): Promise<FileLintResult[]> {
  const projectDir = path.resolve(options.projectDir);
  const migrationsDir = path.resolve(options.migrationsDir);
  const absolute = files.map((file) => path.resolve(file));
  const unique = [...new Set(absolute)];
  const { config, file: configFile, diagnostics: configDiagnostics } = readLintConfig(projectDir, isKnownRule, closestRule, options.config);
  const typeCheck = (options.typeCheck ?? config.typeCheck) !== false;
  const squawk = config.squawk === false ? undefined : findSquawk(projectDir);
  const order = await folderOrder(migrationsDir);
  const texts = new Texts();
  const shorthands = new Shorthands(order, texts);

  // The files that did not change since an earlier run are not linted again (see ./lint-cache).
  const cacheDir = options.cache === false ? undefined : (options.cacheDir ?? defaultLintCacheDir(projectDir));
  const cache = cacheDir
    ? LintCache.open({
        dir: cacheDir,
        projectDir,
        migrationsDir,
        typeCheck,
        squawk,
        globals: unique
          .filter(isScript)
          .map((file) => texts.get(file) ?? '')
          .filter(declaresGlobals),
      })
    : undefined;
  const own = new Map<string, CachedFile>();
  const keys = new Map<string, string>();
  for (const file of unique) {
    const key = cache ? cacheKey(cache, file, texts, shorthands) : undefined;
    const hit = key === undefined ? undefined : cache!.get(file, key);
    if (hit) own.set(file, hit);
    else if (key !== undefined) keys.set(file, key);
  }
  const misses = unique.filter((file) => !own.has(file));
  const folderFindings = checkFolderRules(unique, { migrationsDir, projectDir, inFolder: order, ...(options.newFiles ? { newFiles: options.newFiles } : {}) });
  if (misses.length > 0) {
    for (const [file, linted] of await lintOwnRules(misses, { projectDir, migrationsDir, typeCheck, squawk, order, texts, shorthands })) {
      own.set(file, linted);
      const key = keys.get(file);
      if (key !== undefined) cache!.set(file, key, linted);
    }
  }
  const folder = await folderFindings;
  cache?.save(typeCheck && misses.length > 0 ? { declarations: await checkedDeclarations(projectDir) } : {});

  const results: FileLintResult[] = absolute.map((file) => {
    const { findings, directives } = own.get(file)!;
    const folderLevel = (folder.get(file) ?? []).filter((finding) => !isSuppressed(finding, directives));
    return { file, diagnostics: finish([...findings, ...folderLevel], config) };
  });
  const configProblems = finish(configDiagnostics, config);
  if (configProblems.length > 0) results.push({ file: configFile, diagnostics: configProblems });
  return results;
}

/**
 * The findings of each file's own rules (all but the folder-level ones: file rules, SQL rules, Squawk), suppression
 * comments applied, with the comments: what the lint cache keeps. Loads the TypeScript compiler, the SQL parser and
 * each migration.
 */
async function lintOwnRules(
  files: string[],
  {
    projectDir,
    migrationsDir,
    typeCheck,
    squawk,
    order,
    texts,
    shorthands,
  }: {
    projectDir: string;
    migrationsDir: string;
    typeCheck: boolean;
    squawk: string | undefined;
    order: readonly string[];
    texts: Texts;
    shorthands: Shorthands;
  },
): Promise<Map<string, CachedFile>> {
  const loadedModules = new Map<string, LoadResult>();
  const needsParser = files.some((file) => isScript(file) || path.extname(file).toLowerCase() === '.sql');
  const [fileDiagnostics] = await Promise.all([
    checkOwnRules(files, { migrationsDir, projectDir, typeCheck, texts: texts.map(files), inFolder: order, loaded: loadedModules }),
    needsParser ? loadSqlParser() : undefined,
  ]);
  shorthands.loaded = loadedModules;

  const perFile = new Map<string, { findings: Finding[]; sql?: MigrationSql; text?: string }>();
  for (const file of files) {
    const findings: Finding[] = [...(fileDiagnostics.get(file) ?? [])];
    const entry: { findings: Finding[]; sql?: MigrationSql; text?: string } = { findings };
    perFile.set(file, entry);
    const extension = path.extname(file).toLowerCase();
    if (extension !== '.sql' && !SCRIPT_EXTENSIONS.includes(extension)) continue;
    if (path.basename(file).startsWith('.') || findings.some((finding) => finding.ruleId === 'load-error')) continue;
    const text = texts.get(file);
    if (text === undefined) continue;
    entry.text = text;
    // The file rules loaded it already (TS/JS): the same module is rendered.
    const module = loadedModules.get(file);
    const loaded = module?.ok ? { actions: module.exports as unknown as MigrationBuilderActions } : await loadMigrationActions(file, text);
    if ('error' in loaded) {
      findings.push({
        ruleId: 'load-error',
        severity: 'error',
        message: `node-pg-migrate cannot load ${path.basename(file)}: ${loadErrorMessage(loaded.error)}`,
        hint: 'fix what fails when the module is imported; `gulp migrate` fails on this file until then',
        file,
        source: SOURCE,
      });
      continue;
    }
    const sql = await migrationSql(file, text, { projectDir, actions: loaded.actions, shorthands: await shorthands.before(file) });
    entry.sql = sql;
    findings.push(...sqlFindings(sql));
  }

  if (squawk) await addSquawkFindings(squawk, perFile);

  const results = new Map<string, CachedFile>();
  for (const [file, { findings, sql, text }] of perFile) {
    const directives: Directive[] = [];
    if (text !== undefined && sql?.kind === 'builder') directives.push(...scriptDirectives(file, text));
    if (sql) directives.push(...sqlDirectives(sql));
    const unknown = directives.flatMap((directive) => {
      const ids = directive.ids.length === 0 ? [''] : directive.ids.filter((id) => !isKnownRule(id));
      return ids.map((id) =>
        unknownRule(id, id ? closestRule(id) : undefined, { file, line: directive.line, column: directive.column, where: 'a lint-ignore comment' }),
      );
    });
    const kept: Finding[] = [...findings.filter((finding) => !isSuppressed(finding, directives)), ...unknown];
    const stored = kept.map(({ anchorLines: _anchors, statementKey: _key, ...diagnostic }) => diagnostic);
    results.set(file, { findings: stored, directives });
  }
  return results;
}

/**
 * A file's cache key, or undefined when it is never cached: not a migration file the engine reads (a dotfile, another
 * extension, unreadable), or one whose findings depend on other files (see LintCache.key). A TS/JS file's findings also
 * depend on the column shorthands of the migrations before it: on those files' text.
 */
function cacheKey(cache: LintCache, file: string, texts: Texts, shorthands: Shorthands): string | undefined {
  const extension = path.extname(file).toLowerCase();
  if (path.basename(file).startsWith('.') || (extension !== '.sql' && !SCRIPT_EXTENSIONS.includes(extension))) return undefined;
  const text = texts.get(file);
  if (text === undefined) return undefined;
  return cache.key(file, text, extension === '.sql' ? [] : [shorthands.hashBefore(file)]);
}

/**
 * Lints every migration file in `options.migrationsDir`: the files node-pg-migrate's runner would load, plus files
 * that make it fail (no timestamp prefix, an extension it cannot load); dotfiles and sub-folders are skipped, as the
 * runner skips them.
 */
export async function lintMigrationsFolder(options: LintOptions): Promise<FileLintResult[]> {
  let folder: Awaited<ReturnType<typeof readMigrationFolder>>;
  try {
    folder = await readMigrationFolder(path.resolve(options.migrationsDir), options.ignorePattern);
  } catch (error) {
    const shown = path.relative(path.resolve(options.projectDir), path.resolve(options.migrationsDir)) || options.migrationsDir;
    throw new TaskError(`cannot read the migrations folder ${shown}/: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: 'create a first migration with `gulp migrate:create --name <what_it_does>`, or set the migrations folder in .env (MIGRATIONS_DIR)',
      cause: error,
    });
  }
  const blocking = folder.ignored.filter((entry) => entry.blocksMigrate && !entry.file.endsWith('/')).map((entry) => path.join(folder.dir, entry.file));
  const entries = [...folder.migrations.map((migration) => migration.path), ...blocking];
  // A symbolic link that loops or points nowhere: node-pg-migrate fails on it, so it is an error here, not skipped.
  const unreadable = entries.filter((file) => !isFile(file)).map((file) => unreadableEntry(file, folder.ignored));
  return [...(await lintMigrationFiles(entries.filter(isFile), options)), ...unreadable];
}

/** The finding for a folder entry that is not a readable file (the reason readMigrationFolder gave, when it gave one). */
function unreadableEntry(file: string, ignored: readonly { file: string; reason: string }[]): FileLintResult {
  const base = path.basename(file);
  const reason = ignored.find((entry) => entry.file === base)?.reason ?? 'it cannot be read';
  return {
    file,
    diagnostics: [
      {
        ruleId: 'load-error',
        severity: severityOf('load-error'),
        message: `${base} is ${reason}`,
        hint: `fix or remove ${base} (\`gulp migrate\` fails while it is in the migrations folder)`,
        file,
        source: SOURCE,
      },
    ],
  };
}

/** The SQL rules' findings and the migration's own problems, located in the file. */
function sqlFindings(sql: MigrationSql): Finding[] {
  const located = (ruleId: string, message: string, hint: string, location: SourceLocation, statementKey?: string): Finding => ({
    ruleId,
    severity: severityOf(ruleId),
    message,
    hint,
    file: sql.file,
    ...(location.line ? { line: location.line, column: location.column } : {}),
    source: SOURCE,
    anchorLines: location.anchorLines,
    statementKey,
  });
  const findings = checkStatements(sql.statements, { usesTransaction: sql.usesTransaction, kind: sql.kind }).map((finding) => {
    const statement = sql.statements[finding.statement]!;
    // For TS/JS the user never sees the rendered SQL: say which statement it is.
    const message = sql.kind === 'builder' ? `${finding.message} (in: ${snippet(statement.text)})` : finding.message;
    return located(finding.ruleId, message, finding.hint, sql.locate(statement.step, statement.start), statement.key);
  });
  return [...sql.problems.map((problem) => located(problem.ruleId, problem.message, problem.hint, problem.location)), ...findings];
}

/** Runs Squawk over every rendered migration and adds the findings none of our rules makes. */
async function addSquawkFindings(binary: string, perFile: Map<string, { findings: Finding[]; sql?: MigrationSql }>): Promise<void> {
  const inputs: (SquawkInput & { sql: string })[] = [];
  const sources = new Map<string, MigrationSql>();
  for (const [file, { sql }] of perFile) {
    if (!sql || sql.steps.length === 0) continue;
    inputs.push({ id: file, sql: sql.steps.join('\n'), inTransaction: sql.usesTransaction });
    sources.set(file, sql);
  }
  const found = await runSquawk(binary, inputs);
  for (const [file, violations] of found) {
    const sql = sources.get(file)!;
    const findings = perFile.get(file)!.findings;
    for (const violation of violations) {
      if (SQUAWK_DUPLICATES[violation.rule_name]) continue;
      const { step, offset } = stepAt(sql.steps, offsetOf(sql.steps.join('\n'), violation.line, violation.column));
      const location = sql.locate(step, offset);
      const statement = sql.statements.find((candidate) => candidate.step === step && candidate.start <= offset && offset <= candidate.end);
      const ruleId = `${SQUAWK_PREFIX}${violation.rule_name}`;
      findings.push({
        ruleId,
        severity: violation.level === 'Error' ? 'error' : 'warning',
        message: sql.kind === 'builder' && statement ? `${violation.message} (in: ${snippet(statement.text)})` : violation.message,
        hint: violation.help || `see https://squawkhq.com/docs/${violation.rule_name}`,
        file,
        ...(location.line ? { line: location.line, column: location.column } : {}),
        source: 'squawk',
        anchorLines: location.anchorLines,
        statementKey: statement?.key,
      });
    }
  }
}

/** Which step of `steps.join('\n')` an offset falls in, and where inside it. */
function stepAt(steps: readonly string[], offset: number): { step: number; offset: number } {
  let start = 0;
  for (let step = 0; step < steps.length; step += 1) {
    const end = start + steps[step]!.length;
    if (offset <= end) return { step, offset: offset - start };
    start = end + 1;
  }
  return { step: Math.max(0, steps.length - 1), offset: 0 };
}

/** The folder's migrations in the runner's order ([] when there is no folder: each file is then on its own). */
async function folderOrder(migrationsDir: string): Promise<string[]> {
  try {
    return (await readMigrationFolder(migrationsDir)).migrations.map((migration) => migration.path);
  } catch {
    return [];
  }
}

/** Files' text, each read once per run (undefined: it cannot be read). */
class Texts {
  readonly #texts = new Map<string, string | undefined>();

  get(file: string): string | undefined {
    if (!this.#texts.has(file)) this.#texts.set(file, readText(file));
    return this.#texts.get(file);
  }

  map(files: readonly string[]): Map<string, string | undefined> {
    return new Map(files.map((file) => [file, this.get(file)]));
  }
}

/**
 * The column shorthands a migration sees: those exported by every migration before it in the folder (node-pg-migrate
 * passes them on). Only TS/JS files that mention `shorthands` can export some: only they are loaded for it, and only
 * their text is part of the later files' cache keys. Linear in the folder: the merged shorthands after the k-th such
 * file are computed once.
 */
class Shorthands {
  readonly #position: Map<string, number>;
  readonly #order: readonly string[];
  readonly #texts: Texts;
  /** The files that mention shorthands, by position in the folder. */
  #providers?: { file: string; position: number }[];
  /** merged[k]: the shorthands of the first k providers. */
  readonly #merged: Promise<Record<string, unknown>>[] = [Promise.resolve({})];
  /** hashes[k]: a hash of the first k providers' paths and texts. */
  readonly #hashes: string[] = [''];
  /** Modules loaded already in this run (by the file rules): not loaded again for their shorthands. */
  loaded?: ReadonlyMap<string, LoadResult>;

  constructor(order: readonly string[], texts: Texts) {
    this.#order = order;
    this.#texts = texts;
    this.#position = new Map(order.map((file, index) => [file, index]));
  }

  /** The shorthands in effect for `file` (those of the migrations before it; {} for a file outside the folder). */
  before(file: string): Promise<Record<string, unknown>> {
    const count = this.#countBefore(file);
    for (let k = this.#merged.length; k <= count; k += 1) {
      const provider = this.#providers![k - 1]!.file;
      this.#merged[k] = this.#merged[k - 1]!.then(async (merged) => {
        const text = this.#texts.get(provider);
        const module = this.loaded?.get(provider);
        const loaded = module
          ? module.ok
            ? { actions: module.exports as unknown as MigrationBuilderActions }
            : undefined
          : text === undefined
            ? undefined
            : await loadMigrationActions(provider, text);
        return loaded && 'actions' in loaded && loaded.actions.shorthands ? { ...merged, ...loaded.actions.shorthands } : merged;
      });
    }
    return this.#merged[count]!;
  }

  /** What the shorthands `file` sees depend on, as a hash ('' when no earlier file can export any). */
  hashBefore(file: string): string {
    const count = this.#countBefore(file);
    for (let k = this.#hashes.length; k <= count; k += 1) {
      const provider = this.#providers![k - 1]!.file;
      this.#hashes[k] = hash(`${this.#hashes[k - 1]}\0${provider}\0${this.#texts.get(provider) ?? ''}`);
    }
    return this.#hashes[count]!;
  }

  /** How many providers come before `file` in the folder. */
  #countBefore(file: string): number {
    const position = this.#position.get(file);
    if (position === undefined || position === 0) return 0;
    this.#providers ??= this.#order.flatMap((candidate, index) =>
      isScript(candidate) && this.#texts.get(candidate)?.includes('shorthands') ? [{ file: candidate, position: index }] : [],
    );
    // Binary search: the first provider at or after `position`.
    let low = 0;
    let high = this.#providers.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#providers[middle]!.position < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function isScript(file: string): boolean {
  return SCRIPT_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Applies the config's severities (dropping `off` rules) and sorts by position; strips the engine's own fields. */
function finish(findings: readonly Finding[], config: LintConfig): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const { anchorLines: _anchors, statementKey: _key, ...diagnostic } of findings) {
    const configured = config.rules?.[diagnostic.ruleId];
    const level = configured ?? (DEFAULTS.get(diagnostic.ruleId) === 'off' ? 'off' : diagnostic.severity);
    if (level === 'off') continue;
    diagnostics.push({ ...diagnostic, severity: level });
  }
  return diagnostics.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.ruleId.localeCompare(b.ruleId));
}

function severityOf(ruleId: string): Severity {
  const level = DEFAULTS.get(ruleId);
  return !level || level === 'off' ? 'warning' : level;
}

function dedupe(rules: RuleMeta[]): RuleMeta[] {
  const seen = new Set<string>();
  return rules.filter((rule) => !seen.has(rule.id) && seen.add(rule.id));
}

/** The ids of the SQL-level rules (what a migration's SQL does, as opposed to whether the file loads). */
export const SQL_RULE_IDS: ReadonlySet<string> = new Set(SQL_RULES.map((rule) => rule.id));
