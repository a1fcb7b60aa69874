// The migration linter's public API (the gulp plugin, `gulp lint`, the watcher and migrate's pre-flight use it): the
// file-level rules (./file-rules), the SQL rules on what each migration renders (./sql-rules), optional Squawk
// findings, then suppression comments and the project's `.pgmt-lint.json` applied.
import path from 'node:path';
import { TaskError } from '../errors';
import { readMigrationFolder } from '../migration-folder';
import { checkFiles, FILE_RULES } from './file-rules';
import { closest, readLintConfig, unknownRule } from './lint-config';
import { isFile, loadErrorMessage, loadMigrationActions, migrationSql, readText, SCRIPT_EXTENSIONS, snippet, type MigrationSql, type SourceLocation } from './migration-sql';
import { loadSqlParser } from './sql-parser';
import { checkStatements, SQL_RULES } from './sql-rules';
import { findSquawk, offsetOf, runSquawk, SQUAWK_DUPLICATES, type SquawkInput } from './squawk';
import { isSuppressed, scriptDirectives, sqlDirectives, type Directive } from './suppressions';
import type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './types';

export type { Diagnostic, FileLintResult, LintConfig, LintOptions, RuleMeta, Severity } from './types';
export { CONFIG_FILE } from './lint-config';

/** Rules of the engine itself: problems with suppressions and the config file. */
const ENGINE_RULES: RuleMeta[] = [
  { id: 'unknown-rule', defaultSeverity: 'error', description: 'a lint-ignore comment or .pgmt-lint.json names a rule id that does not exist' },
  { id: 'invalid-config', defaultSeverity: 'error', description: '.pgmt-lint.json is not valid JSON or has a value of the wrong kind' },
  // Reported by the file-level rules; listed here too in case they do not (the engine reports modules it cannot load).
  ...(FILE_RULES.some((rule) => rule.id === 'load-error') ? [] : [{ id: 'load-error', defaultSeverity: 'error' as const, description: 'node-pg-migrate cannot load the file' }]),
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
 * throws for a broken file (that is a diagnostic).
 * @param newFiles files that are new (e.g. the watcher's `add` events), for the out-of-order rule; default: files git
 *   does not track yet
 * @example const [result] = await lintMigrationFiles(['migrations/1732500005000_add_index.ts'], { migrationsDir: 'migrations', projectDir: '.' })
 *          result.diagnostics // [{ ruleId: 'create-index-not-concurrently', severity: 'error', line: 5, column: 3, … }]
 */
export async function lintMigrationFiles(files: string[], options: LintOptions & { newFiles?: string[] }): Promise<FileLintResult[]> {
  const projectDir = path.resolve(options.projectDir);
  const migrationsDir = path.resolve(options.migrationsDir);
  const absolute = files.map((file) => path.resolve(file));
  const { config, file: configFile, diagnostics: configDiagnostics } = readLintConfig(projectDir, isKnownRule, closestRule, options.config);

  const typeCheck = options.typeCheck ?? config.typeCheck;
  const [fileDiagnostics] = await Promise.all([
    checkFiles(absolute, { migrationsDir, projectDir, ...(options.newFiles ? { newFiles: options.newFiles } : {}), ...(typeCheck === undefined ? {} : { typeCheck }) }),
    loadSqlParser(),
  ]);
  const shorthands = await shorthandsLookup(migrationsDir);

  const perFile = new Map<string, { findings: Finding[]; sql?: MigrationSql; text?: string }>();
  for (const file of absolute) {
    if (perFile.has(file)) continue;
    const findings: Finding[] = [...(fileDiagnostics.get(file) ?? [])];
    const entry: { findings: Finding[]; sql?: MigrationSql; text?: string } = { findings };
    perFile.set(file, entry);
    const extension = path.extname(file).toLowerCase();
    if (extension !== '.sql' && !SCRIPT_EXTENSIONS.includes(extension)) continue;
    if (path.basename(file).startsWith('.') || findings.some((finding) => finding.ruleId === 'load-error')) continue;
    const text = readText(file);
    if (text === undefined) continue;
    entry.text = text;
    const loaded = await loadMigrationActions(file, text);
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
    const sql = await migrationSql(file, text, { projectDir, actions: loaded.actions, shorthands: await shorthands(file) });
    entry.sql = sql;
    findings.push(...sqlFindings(sql));
  }

  if (config.squawk !== false) {
    const binary = findSquawk(projectDir);
    if (binary) await addSquawkFindings(binary, perFile);
  }

  const results: FileLintResult[] = absolute.map((file) => {
    const { findings, sql, text } = perFile.get(file)!;
    const directives: Directive[] = [];
    if (text !== undefined && sql?.kind === 'builder') directives.push(...scriptDirectives(file, text));
    if (sql) directives.push(...sqlDirectives(sql));
    const unknown = directives.flatMap((directive) => {
      const ids = directive.ids.length === 0 ? [''] : directive.ids.filter((id) => !isKnownRule(id));
      return ids.map((id) => unknownRule(id, id ? closestRule(id) : undefined, { file, line: directive.line, column: directive.column, where: 'a lint-ignore comment' }));
    });
    const kept = [...findings.filter((finding) => !isSuppressed(finding, directives)), ...unknown];
    return { file, diagnostics: finish(kept, config) };
  });
  const configProblems = finish(configDiagnostics, config);
  if (configProblems.length > 0) results.push({ file: configFile, diagnostics: configProblems });
  return results;
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
  const files = [...folder.migrations.map((migration) => migration.path), ...blocking].filter(isFile);
  return lintMigrationFiles(files, options);
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

/**
 * The column shorthands a migration sees: those exported by every migration before it in the folder (node-pg-migrate
 * passes them on). Only files that mention `shorthands` are loaded for it.
 */
async function shorthandsLookup(migrationsDir: string): Promise<(file: string) => Promise<Record<string, unknown>>> {
  let order: string[] = [];
  try {
    order = (await readMigrationFolder(migrationsDir)).migrations.map((migration) => migration.path);
  } catch {
    // No folder: each file sees only its own shorthands.
  }
  const mentions = new Map<string, boolean>();
  return async (file) => {
    const index = order.indexOf(file);
    let merged: Record<string, unknown> = {};
    for (const earlier of order.slice(0, Math.max(0, index))) {
      if (!SCRIPT_EXTENSIONS.includes(path.extname(earlier).toLowerCase())) continue;
      if (!mentions.has(earlier)) mentions.set(earlier, readText(earlier)?.includes('shorthands') ?? false);
      if (!mentions.get(earlier)) continue;
      const text = readText(earlier);
      const loaded = text === undefined ? undefined : await loadMigrationActions(earlier, text);
      if (loaded && 'actions' in loaded && loaded.actions.shorthands) merged = { ...merged, ...loaded.actions.shorthands };
    }
    return merged;
  };
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
