// The SQL one migration file runs (its `up`), parsed, with the place in the file each statement comes from — what the
// SQL rules, the suppressions and Squawk work on. TS/JS migrations are loaded as node-pg-migrate's runner loads them
// (its bundled jiti) and rendered with its own MigrationBuilder (tasks/render-sql.ts), without a database; each
// builder call is recorded with its call site so the N-th statement maps back to the `pgm.*(…)` call that made it.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { messageOf } from '../util/errors';
import type { Logger } from '../util/logger';
import { MigrationRenderError, renderMigration, type LoadedMigration } from '../sources/render-sql';
import { loadMigrationModule } from './load-migration';
import { findUpExport, parseSource } from './migration-source';
import { parseSql, type SqlStatement } from './sql-parser';
import type { MigrationKind } from './sql-rules';

type MigrationBuilderActions = import('node-pg-migrate/sqlMigration').MigrationBuilderActions;
type MigrationBuilder = import('node-pg-migrate/migrationBuilder').MigrationBuilder;
type TsNode = import('typescript').Node;

/** Extensions node-pg-migrate loads with jiti (TS/JS builder migrations). */
export const SCRIPT_EXTENSIONS = ['.js', '.ts', '.cjs', '.mjs', '.cts', '.mts'];

/** A 1-based place in the migration file, and the lines a `// lint-ignore` comment may target to silence it. */
export interface SourceLocation {
  line?: number;
  column?: number;
  /** The `pgm.*(…)` call's first line and the statement's own line (TS/JS), or the statement's first line (.sql). */
  anchorLines: number[];
}

/** A rendered statement, with where it came from. */
export interface LocatedStatement extends SqlStatement {
  /** Index of the builder step (one `pgm.*` call may render several steps; a step may hold several statements). */
  step: number;
  /** Identifies the statement for statement-level suppressions: `step:start`. */
  key: string;
}

/** A finding about the migration as a whole that the SQL rules cannot make (it did not render, it cannot be reversed). */
export interface MigrationProblem {
  ruleId: 'load-error' | 'render-error' | 'queries-database' | 'irreversible-without-marker' | 'sql-syntax-error';
  message: string;
  hint: string;
  location: SourceLocation;
}

export interface MigrationSql {
  file: string;
  kind: MigrationKind;
  /** The file's text as linted. */
  text: string;
  /** False when the migration calls `pgm.noTransaction()`. */
  usesTransaction: boolean;
  /** The statements `up` runs, in order (empty when it could not be rendered). */
  statements: LocatedStatement[];
  /** The rendered steps, as node-pg-migrate would send them. */
  steps: string[];
  problems: MigrationProblem[];
  /** Maps a character offset inside a rendered step back to the file. */
  locate(step: number, offset: number): SourceLocation;
  /** For `.sql` files: where the up section (step 0) starts in the file. */
  sectionOffset?: number;
}

export interface MigrationSqlOptions {
  projectDir: string;
  /** Column shorthands of earlier migrations (node-pg-migrate passes them on). */
  shorthands?: Record<string, unknown>;
  /** The module as loaded (from `loadMigrationActions`). */
  actions: MigrationBuilderActions;
}

/** One builder call that added SQL steps, with where it was made in the migration file. */
interface CallRecord {
  method: string;
  /** The JavaScript stack at the call, read only when the call's location is asked for (see `callSite`). */
  stack: object;
  firstStep: number;
  stepCount: number;
}

const SILENT: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

// ---------------------------------------------------------------------------------------------------------------------
// Loading

interface CachedModule {
  text: string;
  result: { actions: MigrationBuilderActions } | { error: unknown };
}
/** node-pg-migrate's SQL section parser, imported once (an `import()` per file costs ~50 µs even when loaded). */
let sqlMigrationModule: Promise<typeof import('node-pg-migrate/sqlMigration')> | undefined;

/** Loaded modules by path, re-loaded when the file's text changes (the watcher lints the same files again and again). */
const modules = new Map<string, CachedModule>();

/**
 * Loads a migration module as node-pg-migrate does (its jiti loader for TS/JS, with jiti's module cache off so that
 * edits are seen: see ./load-migration; its section parser for .sql), once per version of the file's text.
 */
export async function loadMigrationActions(file: string, text: string): Promise<{ actions: MigrationBuilderActions } | { error: unknown }> {
  const cached = modules.get(file);
  if (cached?.text === text) return cached.result;
  let result: CachedModule['result'];
  try {
    if (path.extname(file).toLowerCase() === '.sql') {
      sqlMigrationModule ??= import('node-pg-migrate/sqlMigration');
      const { getActions } = await sqlMigrationModule;
      result = { actions: getActions(text) };
    } else {
      const loaded = await loadMigrationModule(file, { text, stripTypes: true });
      result = loaded.ok ? { actions: loaded.exports as unknown as MigrationBuilderActions } : { error: new Error(loaded.message) };
    }
  } catch (error) {
    result = { error };
  }
  modules.set(file, { text, result });
  return result;
}

/** The loader's message on one line (jiti pads it): `ParseError: Unexpected token … /abs/path.ts:1:66`. */
export function loadErrorMessage(error: unknown): string {
  return messageOf(error)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

// ---------------------------------------------------------------------------------------------------------------------
// Rendering

/**
 * Renders one loaded migration's `up` and parses it; checks whether node-pg-migrate can roll it back when it has no
 * `down`. Never throws for a broken migration: a failure is a problem in the result.
 */
export async function migrationSql(file: string, text: string, { projectDir, shorthands = {}, actions }: MigrationSqlOptions): Promise<MigrationSql> {
  const kind: MigrationKind = path.extname(file).toLowerCase() === '.sql' ? 'sql' : 'builder';
  const locator = kind === 'sql' ? undefined : new BuilderLocator(file, text);
  const sql: MigrationSql = { file, kind, text, usesTransaction: true, statements: [], steps: [], problems: [], locate: () => ({ anchorLines: [] }) };
  const name = path.basename(file, path.extname(file));
  const loaded = (up: unknown, down: unknown): LoadedMigration => ({
    name,
    path: file,
    actions: { ...actions, up, down } as MigrationBuilderActions,
    shorthands: { ...shorthands, ...actions.shorthands },
  });

  const calls: CallRecord[] = [];
  const last: { call?: CallRecord } = {};
  try {
    const up = typeof actions.up === 'function' ? instrument(actions.up, calls, last) : actions.up;
    const rendered = await renderMigration(loaded(up, actions.down), { direction: 'up', projectDir, logger: SILENT });
    sql.steps = [...rendered.statements];
    sql.usesTransaction = rendered.usesTransaction;
  } catch (error) {
    const problem = renderProblem(error, locator?.at(last.call) ?? { anchorLines: [] });
    if (problem) sql.problems.push(problem);
    return sql;
  }

  if (kind === 'sql') {
    // The whole up section is one step; node-pg-migrate adds a `;` when it does not end with one.
    const [step = ''] = sql.steps;
    const at = text.indexOf(step);
    const sectionOffset = at >= 0 ? at : Math.max(0, text.indexOf(step.slice(0, -1)));
    const lines = lineIndex(text);
    sql.sectionOffset = sectionOffset;
    sql.locate = (_step, offset) => {
      const { line, column } = lines(sectionOffset + offset);
      return { line, column, anchorLines: [line] };
    };
  } else {
    const sources: (CallRecord | undefined)[] = [];
    for (const call of calls) for (let step = call.firstStep; step < call.firstStep + call.stepCount; step += 1) sources[step] = call;
    sql.locate = (step, offset) => locator!.at(sources[step], sql.steps[step], offset);
  }

  sql.steps.forEach((step, index) => {
    const { statements, errors } = parseSql(step);
    for (const statement of statements) sql.statements.push({ ...statement, step: index, key: `${index}:${statement.start}` });
    for (const error of errors) {
      sql.problems.push({
        ruleId: 'sql-syntax-error',
        message: `PostgreSQL cannot parse this SQL: ${error.message}${kind === 'builder' ? ` — in: ${snippet(step.slice(Math.max(0, error.offset - 20)))}` : ''}`,
        hint: 'fix the SQL (the migration would fail on it)',
        location: sql.locate(index, error.offset),
      });
    }
  });

  if (kind === 'builder' && actions.down === undefined && typeof actions.up === 'function') {
    const reverseCalls: CallRecord[] = [];
    const reverseLast: { call?: CallRecord } = {};
    try {
      await renderMigration(loaded(instrument(actions.up, reverseCalls, reverseLast), undefined), { direction: 'down', projectDir, logger: SILENT });
    } catch (error) {
      if (error instanceof MigrationRenderError && (error.reason === 'irreversible' || error.reason === 'no-action')) {
        const operation = reverseLast.call ? `pgm.${reverseLast.call.method}()` : 'its up';
        sql.problems.push({
          ruleId: 'irreversible-without-marker',
          message: `no down, and node-pg-migrate cannot reverse ${operation} automatically: rolling this migration back would fail`,
          hint: 'write a down that undoes up, or export `down = false` to mark the migration irreversible',
          location: locator!.at(reverseLast.call),
        });
      }
    }
  }
  return sql;
}

function renderProblem(error: unknown, location: SourceLocation): MigrationProblem | undefined {
  const reason = error instanceof MigrationRenderError ? error.reason : 'build';
  switch (reason) {
    case 'queries-database':
      return {
        ruleId: 'queries-database',
        message: 'the migration queries the database while building its SQL (pgm.db), so its SQL cannot be linted',
        hint: 'build the SQL without pgm.db where you can (e.g. a DO block in pgm.sql), or check this migration by hand',
        location,
      };
    case 'build': {
      const cause = error instanceof MigrationRenderError ? (error.cause ?? error) : error;
      return {
        ruleId: 'render-error',
        message: `the migration fails while node-pg-migrate builds its SQL: ${loadErrorMessage(cause)}`,
        hint: 'fix the call (its options or arguments); `gulp migrate --dry-run` shows the same error',
        location,
      };
    }
    default:
      // 'no-action' / 'disabled': no runnable up (a file-level rule reports a missing `up`).
      return undefined;
  }
}

/**
 * Wraps `up` so that every builder call it makes is recorded: which method, how many SQL steps it added, and the line
 * of the migration file it was made from. Keeps `up`'s arity (node-pg-migrate passes a callback to two-parameter ups).
 */
function instrument(up: (...args: never[]) => unknown, calls: CallRecord[], last: { call?: CallRecord }): (...args: unknown[]) => unknown {
  // A proxy rather than replacing the builder's ~120 methods: only the methods the migration uses get a wrapper.
  // `pgm.db` too, so that a migration that queries the database is located at its query.
  const watch = (pgm: MigrationBuilder): MigrationBuilder => {
    const steps = () => pgm.getSqlSteps().length;
    return observe(pgm, '', steps, (object, key) => (key === 'db' ? observe(object as object, 'db.', steps) : undefined));
  };
  const observe = <T extends object>(target: T, prefix: string, steps: () => number, nested?: (value: unknown, key: string) => unknown): T => {
    const wrappers = new Map<string, unknown>();
    return new Proxy(target, {
      get(object, key) {
        const value: unknown = Reflect.get(object, key, object);
        if (typeof key !== 'string' || key.startsWith('_')) return value;
        if (wrappers.has(key)) return wrappers.get(key);
        let wrapper = nested?.(value, key);
        if (wrapper === undefined && typeof value === 'function') {
          const wrapped = function (...args: unknown[]) {
            const firstStep = steps();
            const call: CallRecord = { method: `${prefix}${key}`, stack: captureStack(wrapped), firstStep, stepCount: 0 };
            last.call = call;
            const result = (value as (...args: unknown[]) => unknown).apply(object, args);
            call.stepCount = steps() - firstStep;
            if (call.stepCount > 0) calls.push(call);
            return result;
          };
          wrapper = wrapped;
        }
        if (wrapper === undefined) return value;
        wrappers.set(key, wrapper);
        return wrapper;
      },
    });
  };
  const action = up as unknown as (...args: unknown[]) => unknown;
  if (up.length === 2) {
    return function (this: unknown, pgm: unknown, done: unknown) {
      return action.call(this, watch(pgm as MigrationBuilder), done);
    };
  }
  return function (this: unknown, pgm: unknown) {
    return action.call(this, watch(pgm as MigrationBuilder));
  };
}

/** Frames V8 keeps for a call site: the migration's own frame is the first or, through a helper, one of the next few. */
const STACK_DEPTH = 12;

/**
 * Captures the stack at a builder call without formatting it: V8 formats a stack when it is first read, and most
 * calls are never located (only those with a finding), so this costs a few microseconds per call.
 */
function captureStack(below: (...args: never[]) => unknown): object {
  const holder = {};
  const { stackTraceLimit } = Error;
  Error.stackTraceLimit = STACK_DEPTH;
  Error.captureStackTrace(holder, below);
  Error.stackTraceLimit = stackTraceLimit;
  return holder;
}

/** The innermost frame of a captured stack inside the migration file (a helper of another module is skipped up to its caller). */
function callSite(holder: object, file: string): { line: number; column: number } | undefined {
  const { prepareStackTrace } = Error;
  let frames: NodeJS.CallSite[] | undefined;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    frames = (holder as { stack?: NodeJS.CallSite[] }).stack;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
  }
  const fileUrl = pathToFileURL(file).href;
  for (const frame of Array.isArray(frames) ? frames : []) {
    const name = frame.getFileName();
    if (name === file || name === fileUrl) {
      const line = frame.getLineNumber();
      if (line) return { line, column: frame.getColumnNumber() ?? 1 };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// Locations in TS/JS files

/** A `<something>.<method>(…)` call in the source (the syntax tree's view). */
interface SourceCall {
  method: string;
  line: number;
  column: number;
  /** When the first argument is a plain string literal: its text and where the text starts in the file. */
  literal?: { text: string; offset: number };
}

/**
 * Maps builder calls recorded at run time to the source: the line comes from the stack, the column (and for
 * `pgm.sql('…')` with a plain literal, the exact place inside the string) from the TypeScript syntax tree. The tree
 * is parsed on the first question only (most files have nothing to report).
 */
class BuilderLocator {
  #calls?: Map<number, SourceCall[]>;
  #upLine?: number;
  #lines?: (offset: number) => { line: number; column: number };

  constructor(
    private readonly file: string,
    private readonly text: string,
  ) {}

  /** Where a statement at `offset` of `step` (rendered by `call`) is written; the `up` export when unknown. */
  at(call: CallRecord | undefined, step?: string, offset = 0): SourceLocation {
    const site = call && callSite(call.stack, this.file);
    if (!call || !site) {
      const line = this.upLine();
      return { line, column: line ? 1 : undefined, anchorLines: line ? [line] : [] };
    }
    // The line from the stack is exact (jiti keeps lines); its column is not (jiti's output is reformatted).
    const candidates = (this.calls().get(site.line) ?? []).filter((source) => source.method === call.method.slice(call.method.lastIndexOf('.') + 1));
    const source = candidates[0];
    if (!source) return { line: site.line, column: site.column, anchorLines: [site.line] };
    const literal = source.literal;
    if (literal && step !== undefined && (step === literal.text || step === `${literal.text};`) && offset < literal.text.length) {
      const exact = this.lines()(literal.offset + offset);
      return { ...exact, anchorLines: [...new Set([source.line, exact.line])] };
    }
    return { line: source.line, column: source.column, anchorLines: [source.line] };
  }

  private lines(): (offset: number) => { line: number; column: number } {
    this.#lines ??= lineIndex(this.text);
    return this.#lines;
  }

  private upLine(): number | undefined {
    if (this.#upLine === undefined) {
      this.#upLine = 0;
      try {
        const source = parseSource(this.file, this.text);
        const up = findUpExport(source);
        if (up.kind === 'present' && up.fn) this.#upLine = source.getLineAndCharacterOfPosition(up.fn.getStart(source)).line + 1;
      } catch {
        // No location, rather than a crash.
      }
    }
    return this.#upLine || undefined;
  }

  private calls(): Map<number, SourceCall[]> {
    if (this.#calls) return this.#calls;
    this.#calls = new Map();

    const ts = require('typescript') as typeof import('typescript');
    const source = parseSource(this.file, this.text);
    const visit = (node: TsNode): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ts.isIdentifier(node.expression.name)) {
        const start = node.getStart(source);
        const { line, character } = source.getLineAndCharacterOfPosition(start);
        const call: SourceCall = { method: node.expression.name.text, line: line + 1, column: character + 1 };
        const [first] = node.arguments;
        if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) {
          const rawStart = first.getStart(source) + 1;
          const raw = this.text.slice(rawStart, first.getEnd() - 1);
          // Only when the string has no escapes: then offsets in the SQL are offsets in the file.
          if (raw === first.text) call.literal = { text: first.text, offset: rawStart };
        }
        // Calls are keyed by the line of the method name: a chained or multi-line callee keeps the runtime line.
        const nameLine = source.getLineAndCharacterOfPosition(node.expression.name.getStart(source)).line + 1;
        for (const key of new Set([call.line, nameLine])) this.#calls!.set(key, [...(this.#calls!.get(key) ?? []), call]);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return this.#calls;
  }
}

/** 1-based line and column of character offsets in a text. */
export function lineIndex(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) starts.push(index + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1 };
  };
}

/** The first 80 characters of a statement, on one line. */
export function snippet(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

/** Reads a file's text, or undefined when it cannot be read (removed between listing and linting). */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether a path is a file now (not a folder, not gone). */
export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
