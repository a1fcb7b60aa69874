// File-level lint rules: the file's name and place in the folder, and whether node-pg-migrate can load it at all
// (syntax, types, import-time errors, an `up` export). The SQL rules (./sql-rules) look at what a file renders.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hasDownSection, readMigrationFolder, ROLLBACKS_FOLDER, unrecordableName, whyNotAMigration } from '../sources/migration-folder';
import { rollbackFileFor } from '../sources/sql-rollbacks';
import { loadMigrationModule, prepareLoader, warmUpTransform, type LoadResult } from './load-migration';
import { findUpExport, parseSource } from './migration-source';
import type { Diagnostic, RuleMeta, Severity } from './types';
import { compilerFindings, syntaxFindings, warmUpTypeChecker, type CompilerFinding } from './typescript-check';

export { pgmCallLines } from './migration-source';

export const FILE_RULES: RuleMeta[] = [
  {
    id: 'name-pattern',
    defaultSeverity: 'error',
    description: "The file name is node-pg-migrate's: a numeric timestamp, `_` or `-`, a name, and .ts/.js/.cjs/.mjs/.cts/.mts/.sql.",
  },
  { id: 'duplicate-timestamp', defaultSeverity: 'error', description: 'No two migrations in the folder share a timestamp prefix.' },
  { id: 'out-of-order', defaultSeverity: 'error', description: 'A new migration is not older than the newest existing one.' },
  { id: 'syntax-error', defaultSeverity: 'error', description: "A TS/JS migration parses (the TypeScript compiler's diagnostic)." },
  {
    id: 'type-error',
    defaultSeverity: 'error',
    description: "A TS migration type-checks with the project's tsconfig.json (the TypeScript compiler's diagnostic).",
  },
  {
    id: 'load-error',
    defaultSeverity: 'error',
    description: 'node-pg-migrate can load the file: its loader (jiti) neither fails nor meets an exception at import.',
  },
  { id: 'missing-up', defaultSeverity: 'error', description: 'A TS/JS migration exports an `up` function.' },
  {
    id: 'missing-rollback',
    defaultSeverity: 'info',
    description:
      'A .sql migration has a rollback: a "-- Down Migration" section, down/<file>, or <name>.down.sql beside it (migrate down, redo and verify refuse it otherwise).',
  },
];

export interface FileRulesContext {
  /** The migrations folder: the files of the other rules' comparisons (duplicates, ordering). */
  migrationsDir: string;
  /** Where tsconfig.json is looked up (upwards) and where git is asked which files are new. */
  projectDir: string;
  /** The files that are new (the watcher's `add` events) for `out-of-order`. Default: the files git does not track yet. */
  newFiles?: string[];
  /**
   * Type-check TS/JS migrations (`type-error`) with a language service kept per project. Default true: ~1–2 s for the
   * first file of a process, then tens of ms per file. False checks syntax only (a few ms per file).
   */
  typeCheck?: boolean;
  /** The files' text as the caller read them (a file missing here is read from disk). */
  texts?: ReadonlyMap<string, string | undefined>;
  /** The folder's migrations in the runner's order, when the caller has read the folder already. */
  inFolder?: readonly string[];
  /** Filled with each TS/JS file's module as loaded, so that the caller renders it without loading it again. */
  loaded?: Map<string, LoadResult>;
}

const SOURCE = 'pg-migrate-tasks' as const;
/** Extensions node-pg-migrate loads through jiti (the others it loads are .sql files). */
const SCRIPT_EXTENSIONS = new Set(['.ts', '.js', '.cjs', '.mjs', '.cts', '.mts']);
/** node-pg-migrate's numeric prefix, then the separator and name we ask for. */
const NAME_PATTERN = /^\d+[_-][^.]/;

/**
 * Runs the file-level rules on the given files: one diagnostic list per file (in the order given, empty when clean).
 * Never throws for a broken file. A file node-pg-migrate cannot load carries a `load-error` diagnostic (callers skip
 * its SQL rules). Files node-pg-migrate skips (names starting with `.`) get no diagnostics.
 */
export async function checkFiles(files: string[], context: FileRulesContext): Promise<Map<string, Diagnostic[]>> {
  const [own, folder] = await Promise.all([checkOwnRules(files, context), checkFolderRules(files, context)]);
  for (const [file, diagnostics] of folder) own.get(file)!.push(...diagnostics);
  return own;
}

/**
 * The file-level rules that look at nothing but the file itself (its name, syntax, types, whether it loads, its `up`):
 * what the lint cache may keep per file. Same contract as {@link checkFiles}.
 */
export async function checkOwnRules(files: string[], context: FileRulesContext): Promise<Map<string, Diagnostic[]>> {
  const absolute = files.map((file) => path.resolve(file));
  const { results, add } = collector(absolute);

  const texts = new Map<string, string>();
  for (const file of absolute) {
    const base = path.basename(file);
    if (base.startsWith('.')) continue;
    const naming = nameProblem(base);
    if (naming) add(file, naming);
    if (!isLoadable(base)) {
      add(file, {
        ruleId: 'load-error',
        message: `node-pg-migrate cannot load ${base}: it loads only .ts, .js, .cjs, .mjs, .cts, .mts and .sql files ("Unknown file extension")`,
        hint: `move ${base} out of the migrations folder (\`gulp migrate\` fails while it is there)`,
      });
      continue;
    }
    if (!SCRIPT_EXTENSIONS.has(path.extname(base).toLowerCase())) continue; // .sql: the SQL rules parse it
    const given = context.texts?.get(file);
    if (given !== undefined) {
      texts.set(file, given);
      continue;
    }
    try {
      texts.set(file, await readFile(file, 'utf8'));
    } catch (error) {
      add(file, {
        ruleId: 'load-error',
        message: `cannot read ${base}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        hint: `check that ${base} exists and is readable`,
      });
    }
  }
  // Nothing to compile: the TypeScript compiler is not even loaded.
  if (texts.size === 0) return results;

  const compiled = context.typeCheck === false ? syntaxFindings(texts) : await compilerFindings(context.projectDir, texts);
  for (const [file, text] of texts) {
    const findings = compiled.get(file) ?? [];
    const syntax = findings.find((found) => found.kind === 'syntax');
    for (const found of findings) add(file, compilerDiagnostic(found));
    const loaded = await loadMigrationModule(file, { text, stripTypes: true });
    context.loaded?.set(file, loaded);
    if (!loaded.ok) {
      add(file, {
        ruleId: 'load-error',
        message: `node-pg-migrate cannot load ${path.basename(file)}: ${loaded.message}`,
        line: loaded.line,
        column: loaded.column,
        hint: syntax
          ? `fix the syntax error at line ${syntax.line}:${syntax.column} first; \`gulp migrate\` fails on this file until then`
          : `fix what fails when the module is imported (an import, or top-level code that throws); \`gulp migrate\` fails on this file until then`,
      });
    }
    if (!syntax) checkUp(file, text, loaded, add);
  }
  return results;
}

/**
 * Loads what the first check would (TypeScript and the project's language service, node-pg-migrate, jiti) so that the
 * first file a watcher checks takes tens of ms instead of ~1 s. Optional: checkFiles does the same on first use.
 */
export async function prepareFileRules({ projectDir, typeCheck = true }: Pick<FileRulesContext, 'projectDir' | 'typeCheck'>): Promise<void> {
  await Promise.all([
    typeCheck ? warmUpTypeChecker(projectDir) : syntaxFindings(new Map()),
    prepareLoader(),
    warmUpTransform(),
    import('node-pg-migrate/utils/fileNameUtils'),
  ]);
}

type Add = (file: string, diagnostic: Omit<Diagnostic, 'file' | 'source' | 'severity'> & { severity?: Severity }) => void;

/** An empty diagnostic list per file, and the function that adds one (an error unless it says otherwise). */
function collector(files: readonly string[]): { results: Map<string, Diagnostic[]>; add: Add } {
  const results = new Map<string, Diagnostic[]>(files.map((file) => [file, []]));
  return { results, add: (file, diagnostic) => results.get(file)!.push({ severity: 'error', ...diagnostic, file, source: SOURCE }) };
}

function nameProblem(base: string): Omit<Diagnostic, 'file' | 'source' | 'severity'> | undefined {
  const extension = path.extname(base);
  const stem = path.basename(base, extension);
  const reason = whyNotAMigration(base, 'file');
  if (reason && !/^\d/.test(base)) {
    const name = stem.replace(/[^A-Za-z0-9_-]+/g, '_') || 'name';
    return {
      ruleId: 'name-pattern',
      message: `${base} has no numeric timestamp prefix: node-pg-migrate cannot order it ("Cannot determine numeric prefix"), and \`gulp migrate\` fails while it is in the folder`,
      hint: `rename it to <timestamp>_${name}${isLoadable(base) ? extension : '.ts'} (\`gulp migrate:create --name ${name}\` makes one), or move it out of the migrations folder`,
    };
  }
  const unsafe = unrecordableName(stem);
  if (unsafe) {
    return {
      ruleId: 'name-pattern',
      message: `${base}: ${unsafe}`,
      hint: `rename it without apostrophes, backslashes or control characters, e.g. ${stem.replace(/[^A-Za-z0-9_-]+/g, '_')}${extension} (before it is applied anywhere)`,
    };
  }
  if (reason) {
    return {
      ruleId: 'name-pattern',
      message: `${base} does not end in an extension node-pg-migrate loads (.ts, .js, .cjs, .mjs, .cts, .mts, .sql)`,
      hint: `rename it to ${stem}.ts (or .js, .sql) if it is a migration; otherwise move it out of the migrations folder`,
    };
  }
  if (!NAME_PATTERN.test(base)) {
    return {
      ruleId: 'name-pattern',
      message: `${base} has no name after its timestamp: node-pg-migrate's pattern is <timestamp>_<name>${extension}`,
      hint: `rename it to ${/^\d+/.exec(base)![0]}_<what_it_does>${extension}`,
    };
  }
  return undefined;
}

/** Whether node-pg-migrate loads files with this one's extension (whyNotAMigration decides, given a valid name). */
function isLoadable(base: string): boolean {
  return !whyNotAMigration(`0_name${path.extname(base)}`, 'file');
}

/**
 * The folder-level rules, `duplicate-timestamp`, `out-of-order` and `missing-rollback`: each given file against the
 * migrations folder (and against git; a rollback file beside it). Their findings change when another file does, so the lint cache never keeps them: they run every time,
 * in time linear in the folder's size. Same contract as {@link checkFiles}.
 */
export async function checkFolderRules(files: string[], context: FileRulesContext): Promise<Map<string, Diagnostic[]>> {
  const absolute = files.map((file) => path.resolve(file));
  const { results, add } = collector(absolute);
  await folderRules(absolute, context, add);
  return results;
}

/** `duplicate-timestamp`, `missing-rollback` and `out-of-order`: each given file against the migrations folder. */
async function folderRules(files: string[], context: FileRulesContext, add: Add): Promise<void> {
  const { getNumericPrefix } = await import('node-pg-migrate/utils/fileNameUtils');
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  const timestampOf = (file: string): number | undefined => {
    try {
      return getNumericPrefix(path.basename(file), silent);
    } catch {
      return undefined;
    }
  };
  let inFolder: readonly string[] = context.inFolder ?? [];
  if (!context.inFolder) {
    try {
      inFolder = (await readMigrationFolder(context.migrationsDir)).migrations.map((migration) => migration.path);
    } catch {
      // No folder yet: only the given files are compared.
    }
  }
  const isMigration = (file: string) => !path.basename(file).startsWith('.') && !whyNotAMigration(path.basename(file), 'file');
  const all = [...new Set([...inFolder, ...files.filter(isMigration)])];
  const stamps = new Map(all.map((file) => [file, timestampOf(file)]));
  // Files by timestamp, in folder order: one pass, rather than a scan of the folder per file.
  const byStamp = new Map<number, string[]>();
  for (const file of all) {
    const stamp = stamps.get(file);
    if (stamp === undefined) continue;
    const group = byStamp.get(stamp);
    if (group) group.push(file);
    else byStamp.set(stamp, [file]);
  }

  for (const file of files) {
    const stamp = stamps.get(file);
    if (stamp === undefined) continue;
    const others = byStamp
      .get(stamp)!
      .filter((other) => other !== file)
      .map((other) => path.basename(other));
    if (others.length > 0) {
      add(file, {
        ruleId: 'duplicate-timestamp',
        message: `${path.basename(file)} has the same timestamp as ${others.join(', ')}: node-pg-migrate then orders them by name, not by when they were written`,
        hint: `rename the newer one with a later, unused timestamp (\`gulp migrate:create\` picks one for a new file)`,
      });
    }
  }

  // A rollback file appears or goes without the migration changing: checked here, fresh, not in the cached rules.
  for (const file of files) {
    if (path.extname(file).toLowerCase() !== '.sql' || hasDownSection(file) || rollbackFileFor(file)) continue;
    const base = path.basename(file);
    add(file, {
      ruleId: 'missing-rollback',
      severity: 'info',
      line: 1,
      column: 1,
      message: `${base} has no rollback: no "-- Down Migration" section, no ${ROLLBACKS_FOLDER}/${base}, no ${path.basename(base, '.sql')}.down.sql; \`gulp migrate --direction down\`, migrate:redo and migrate:verify refuse it`,
      hint: `write the SQL that undoes it in ${ROLLBACKS_FOLDER}/${base} (or after a "-- Down Migration" line in the file); if it cannot be undone, say so with \`-- lint-ignore-file missing-rollback\``,
    });
  }

  const fresh = await newFiles(context);
  if (!fresh) return;
  const existing = all.filter((file) => !fresh.has(file) && stamps.get(file) !== undefined);
  const newest = existing.reduce<string | undefined>((best, file) => (best === undefined || stamps.get(file)! > stamps.get(best)! ? file : best), undefined);
  if (newest === undefined) return;
  for (const file of files) {
    const stamp = stamps.get(file);
    if (!fresh.has(file) || stamp === undefined || stamp >= stamps.get(newest)!) continue;
    const base = path.basename(file);
    const name = path.basename(newest, path.extname(newest));
    add(file, {
      ruleId: 'out-of-order',
      message:
        `${base} is new but older than ${path.basename(newest)}, the newest existing migration: on a database where that one is applied, ` +
        `node-pg-migrate refuses to run ("Not run migration ${path.basename(base, path.extname(base))} is preceding already run migration ${name}")`,
      hint: `rename it with a timestamp after ${/^\d+/.exec(path.basename(newest))![0]} (\`gulp migrate:create\` picks one for a new file)`,
    });
  }
}

/** The given new files, or the files git does not track yet; undefined when neither is known (not a git work tree). */
async function newFiles({ newFiles: given, projectDir, migrationsDir }: FileRulesContext): Promise<Set<string> | undefined> {
  if (given) return new Set(given.map((file) => path.resolve(file)));
  return new Promise((resolve) => {
    execFile(
      'git',
      ['ls-files', '--others', '--exclude-standard', '-z', '--', path.resolve(migrationsDir)],
      { cwd: projectDir, encoding: 'utf8' },
      (error, stdout) => {
        if (error) resolve(undefined);
        else
          resolve(
            new Set(
              stdout
                .split('\0')
                .filter(Boolean)
                .map((file) => path.resolve(projectDir, file)),
            ),
          );
      },
    );
  });
}

function compilerDiagnostic({ kind, text, severity, line, column }: CompilerFinding): Omit<Diagnostic, 'file' | 'source'> {
  return kind === 'syntax'
    ? { ruleId: 'syntax-error', severity, message: text, hint: 'fix the syntax here; node-pg-migrate cannot load the file until then', line, column }
    : {
        ruleId: 'type-error',
        severity,
        message: text,
        hint: 'fix the type error (`npx tsc --noEmit -p .` shows the same), or the migration may fail when it runs',
        line,
        column,
      };
}

/** `missing-up`, from the syntax; where the syntax cannot tell (`export *`, `module.exports = build()`), from the loaded module. */
function checkUp(file: string, text: string, loaded: LoadResult, add: Add): void {
  const found = findUpExport(parseSource(file, text));
  if (found.kind === 'present') return;
  if (loaded.ok && typeof loaded.exports.up === 'function') return;
  if (found.kind === 'unknown' && !loaded.ok) return;
  const base = path.basename(file);
  if (/\.d\.[cm]?ts$/i.test(base)) {
    // A declaration file: types only, never a migration, but node-pg-migrate loads every .ts file of the folder.
    add(file, {
      ruleId: 'missing-up',
      message: `${base} is a TypeScript declaration file (types only), not a migration, but node-pg-migrate loads it as one and fails ("exporting a 'up' function?")`,
      hint: `move ${base} out of the migrations folder (next to the code that uses its types)`,
    });
    return;
  }
  const esm = /\.(ts|mts|mjs)$/i.test(base) || /^\s*(import|export)\s/m.test(text);
  add(file, {
    ruleId: 'missing-up',
    message: `${base} exports no \`up\` function: node-pg-migrate has nothing to run ("Is the migration ${path.basename(base, path.extname(base))} exporting a 'up' function?")`,
    hint: esm ? 'add `export const up = (pgm: MigrationBuilder): void => { … }`' : 'add `exports.up = (pgm) => { … }`',
  });
}
