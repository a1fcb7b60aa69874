import { statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/package-root';

// Types only: TypeScript costs ~0.3 s to import, so it is loaded on the first check, not when the gulpfile starts.
type TS = typeof import('typescript');
type CompilerOptions = import('typescript').CompilerOptions;
type LanguageService = import('typescript').LanguageService;
type TsDiagnostic = import('typescript').Diagnostic;

/** A compiler finding, in the file it is about. */
export interface CompilerFinding {
  kind: 'syntax' | 'type';
  /** `TS2345: Argument of type …`, the compiler's own text on one line. */
  text: string;
  severity: 'error' | 'warning';
  /** 1-based. */
  line?: number;
  column?: number;
}

/** Used when the project has no tsconfig.json: what node-pg-migrate's jiti accepts (any ESM/CJS mix, no extensions). */
const DEFAULT_OPTIONS = {
  target: 'ES2022',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  lib: ['ES2023'],
  strict: true,
  esModuleInterop: true,
  skipLibCheck: true,
  allowJs: true,
  resolveJsonModule: true,
} as const;

/**
 * Forced on any options: nothing is written; .js migrations are accepted (type-checked only with `checkJs` or
 * `// @ts-check`); every migration is a module, as jiti loads it (without this, two .ts migrations without imports
 * would share one global scope and clash).
 */
function checkOptions(ts: TS): CompilerOptions {
  return { noEmit: true, allowJs: true, incremental: false, composite: false, declaration: false, moduleDetection: ts.ModuleDetectionKind.Force };
}

/** TypeScript, loaded on first use (~0.3 s) rather than when the gulpfile starts; synchronously, for pgmCallLines. */
export function typescript(): TS {
  return require('typescript') as TS;
}

/**
 * Syntax errors of TS/JS files, without types: one program of just these files (no lib, no imports followed), so the
 * cost is a parse (~1 ms per file; `ts.transpileModule` would also emit, at ~5 ms per file).
 * @param texts the files' current text (the caller has read them already)
 */
export function syntaxFindings(texts: ReadonlyMap<string, string>): Map<string, CompilerFinding[]> {
  const ts = typescript();
  const options: CompilerOptions = {
    noLib: true,
    noResolve: true,
    types: [],
    allowJs: true,
    noEmit: true,
    target: ts.ScriptTarget.ESNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => texts.get(file) ?? readFile(file);
  host.fileExists = (file) => texts.has(file);
  const program = ts.createProgram({ rootNames: [...texts.keys()], options, host });
  const findings = new Map<string, CompilerFinding[]>();
  for (const file of texts.keys()) {
    const source = program.getSourceFile(file);
    findings.set(file, source ? program.getSyntacticDiagnostics(source).map((diagnostic) => finding(ts, 'syntax', diagnostic)) : []);
  }
  return findings;
}

/** One language service per project folder, kept for the life of the process (the watcher checks one file per save). */
interface TypeChecker {
  ts: TS;
  service: LanguageService;
  /** The files being checked, with their text as last read and a version the service compares. */
  roots: Map<string, { text: string; version: number }>;
  /** `.d.ts` files the project's tsconfig includes (global declarations a migration may rely on). */
  declarations: string[];
}

const checkers = new Map<string, Promise<TypeChecker>>();

/**
 * Syntax and type errors of TS/JS files, as `tsc --noEmit` with the project's tsconfig.json would report them for
 * these files (for .js files only with `checkJs` or `// @ts-check`). The first call for a project builds a language
 * service (reads lib and imported declarations: ~1–2 s); later calls re-check only what changed.
 * @param texts the files' current text (the caller has read them already)
 */
export async function compilerFindings(projectDir: string, texts: ReadonlyMap<string, string>): Promise<Map<string, CompilerFinding[]>> {
  const key = path.resolve(projectDir);
  let pending = checkers.get(key);
  if (!pending) {
    pending = createTypeChecker(key);
    checkers.set(key, pending);
    pending.catch(() => checkers.delete(key));
  }
  const { ts, service, roots } = await pending;
  for (const [file, text] of texts) {
    const known = roots.get(file);
    if (!known) roots.set(file, { text, version: 1 });
    else if (known.text !== text) roots.set(file, { text, version: known.version + 1 });
  }
  const findings = new Map<string, CompilerFinding[]>();
  for (const file of texts.keys()) {
    const syntax = service.getSyntacticDiagnostics(file);
    // A file that does not parse has no meaningful types: its type errors would only echo the syntax error.
    const semantic = syntax.length > 0 ? [] : service.getSemanticDiagnostics(file);
    findings.set(file, [
      ...syntax.map((diagnostic) => finding(ts, 'syntax', diagnostic)),
      ...semantic.filter((diagnostic) => isTypeProblem(ts, diagnostic)).map((diagnostic) => finding(ts, 'type', diagnostic)),
    ]);
  }
  return findings;
}

/**
 * Builds the project's language service and checks a throw-away migration with it, so that the first real check is
 * warm (lib, @types/node and node-pg-migrate's declarations read and bound): for a watcher, at start.
 */
export async function warmUpTypeChecker(projectDir: string): Promise<void> {
  const probe = path.join(path.resolve(projectDir), '__pgmt_lint_warm_up__.ts');
  const text = "import type { MigrationBuilder } from 'node-pg-migrate';\nexport const up = (pgm: MigrationBuilder): void => pgm.sql('SELECT 1');\n";
  await compilerFindings(projectDir, new Map([[probe, text]]));
  (await checkers.get(path.resolve(projectDir)))?.roots.delete(probe);
}

/**
 * The `.d.ts` files the project's tsconfig.json includes (global declarations), when its language service was built in
 * this process; undefined otherwise (nothing is loaded for it). The lint cache watches them.
 */
export async function checkedDeclarations(projectDir: string): Promise<string[] | undefined> {
  const pending = checkers.get(path.resolve(projectDir));
  if (!pending) return undefined;
  try {
    return [...(await pending).declarations];
  } catch {
    return undefined;
  }
}

/** Forgets the language services (tests; a watcher whose tsconfig.json changed). */
export function resetTypeCheckers(): void {
  checkers.clear();
}

async function createTypeChecker(projectDir: string): Promise<TypeChecker> {
  const ts = typescript();
  const { options, declarations } = compilerOptions(ts, projectDir);
  const roots = new Map<string, { text: string; version: number }>();
  const resolutionCache = ts.createModuleResolutionCache(projectDir, (name) => name, options);
  const fallbackFrom = path.join(packageRoot(), 'index.ts');

  const host: import('typescript').LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => [...declarations, ...roots.keys()],
    getScriptVersion: (file) => String(roots.get(file)?.version ?? diskVersion(file)),
    getScriptSnapshot: (file) => {
      const text = roots.get(file)?.text ?? ts.sys.readFile(file);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => projectDir,
    getDefaultLibFileName: (settings) => ts.getDefaultLibFilePath(settings),
    fileExists: (file) => roots.has(file) || ts.sys.fileExists(file),
    readFile: (file, encoding) => roots.get(file)?.text ?? ts.sys.readFile(file, encoding),
    readDirectory: (...args) => ts.sys.readDirectory(...args),
    directoryExists: (dir) => ts.sys.directoryExists(dir),
    getDirectories: (dir) => ts.sys.getDirectories(dir),
    realpath: (file) => ts.sys.realpath?.(file) ?? file,
    // Resolved as the project would; what the project cannot resolve (a temp folder, a JS-only project without
    // node_modules/@types) is looked up from this package, which has node-pg-migrate and its types.
    resolveModuleNameLiterals: (literals, containingFile, redirected, settings, containingSourceFile) =>
      literals.map((literal) => {
        const mode = ts.getModeForUsageLocation(containingSourceFile, literal, settings);
        const own = ts.resolveModuleName(literal.text, containingFile, settings, host, resolutionCache, redirected, mode);
        if (own.resolvedModule || literal.text.startsWith('.')) return own;
        const fallback = ts.resolveModuleName(literal.text, fallbackFrom, settings, host, undefined, redirected, mode);
        return fallback.resolvedModule ? fallback : own;
      }),
  };
  return { ts, service: ts.createLanguageService(host, ts.createDocumentRegistry()), roots, declarations };
}

/** The project's tsconfig.json options (found upwards from projectDir), made suitable for checking, or the defaults. */
function compilerOptions(ts: TS, projectDir: string): { options: CompilerOptions; declarations: string[] } {
  const configFile = ts.findConfigFile(projectDir, (file) => ts.sys.fileExists(file));
  if (!configFile) {
    const { options } = ts.convertCompilerOptionsFromJson(
      { ...DEFAULT_OPTIONS, ...(hasNodeTypes(projectDir) ? {} : { types: ['node'], typeRoots: [path.join(packageRoot(), 'node_modules', '@types')] }) },
      projectDir,
    );
    return { options: { ...options, ...checkOptions(ts) }, declarations: [] };
  }
  const { config } = ts.readConfigFile(configFile, (file) => ts.sys.readFile(file));
  const parsed = ts.parseJsonConfigFileContent(config ?? {}, ts.sys, path.dirname(configFile), undefined, configFile);
  // A config that leaves module resolution to TypeScript's defaults (e.g. a solution-style tsconfig.json with only
  // references) would resolve as Node10, which cannot find node-pg-migrate's types: resolve as jiti does instead.
  const resolution =
    parsed.options.module === undefined && parsed.options.moduleResolution === undefined
      ? { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }
      : {};
  const options: CompilerOptions = { ...parsed.options, ...resolution, ...checkOptions(ts) };
  delete options.tsBuildInfoFile;
  return { options, declarations: parsed.fileNames.filter((file) => file.endsWith('.d.ts')) };
}

function hasNodeTypes(projectDir: string): boolean {
  for (let dir = projectDir; ; dir = path.dirname(dir)) {
    try {
      statSync(path.join(dir, 'node_modules', '@types', 'node', 'package.json'));
      return true;
    } catch {
      if (path.dirname(dir) === dir) return false;
    }
  }
}

/** Files of node_modules and TypeScript's libs do not change while we run; others are re-read when their mtime moves. */
function diskVersion(file: string): string {
  if (file.includes(`${path.sep}node_modules${path.sep}`)) return '0';
  try {
    return String(statSync(file).mtimeMs);
  } catch {
    return 'missing';
  }
}

function finding(ts: TS, kind: CompilerFinding['kind'], diagnostic: TsDiagnostic): CompilerFinding {
  const chain = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  const text = `TS${diagnostic.code}: ${chain
    .split('\n')
    .map((part) => part.trim())
    .filter(Boolean)
    .join(' ')}`;
  const severity = diagnostic.category === ts.DiagnosticCategory.Error ? 'error' : 'warning';
  if (!diagnostic.file || diagnostic.start === undefined) return { kind, text, severity };
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return { kind, text, severity, line: line + 1, column: character + 1 };
}

/**
 * Unused names (noUnusedLocals / noUnusedParameters: TS6133, TS6138, TS6192, TS6196, TS6198, TS6199, TS6205) are style
 * the project's own `tsc` reports; they never make a migration fail, so they must not block `migrate` (an untouched
 * `migrate:create` template has an unused `pgm`).
 */
const UNUSED_NAME_CODES = new Set([6133, 6138, 6192, 6196, 6198, 6199, 6205]);

function isTypeProblem(ts: typeof import('typescript'), diagnostic: import('typescript').Diagnostic): boolean {
  if (diagnostic.category === ts.DiagnosticCategory.Suggestion || diagnostic.category === ts.DiagnosticCategory.Message) return false;
  return !UNUSED_NAME_CODES.has(diagnostic.code);
}
