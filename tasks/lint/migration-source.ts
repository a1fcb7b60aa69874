import { readFileSync } from 'node:fs';
import { typescript } from './typescript-check';

type TS = typeof import('typescript');
type Node = import('typescript').Node;
type SourceFile = import('typescript').SourceFile;
type Expression = import('typescript').Expression;

/** Whether a migration's source exports `up`, as far as its syntax tells. */
export type UpExport =
  | { kind: 'present'; fn?: FunctionLike }
  | { kind: 'absent' }
  /** Exports built in a way the syntax does not show (`export *`, `module.exports = build()`): ask the loaded module. */
  | { kind: 'unknown' };

type FunctionLike = import('typescript').FunctionLikeDeclaration;

/** One `pgm.<method>(…)` call in `up`. */
export interface PgmCall {
  method: string;
  /** 1-based position of the call (its `pgm`). */
  line: number;
  column: number;
  /** False for builder methods that add no statement: `func`, `noTransaction`, `isUsingTransaction`, `getSql`, … */
  emitsSql: boolean;
}

/** MigrationBuilder methods that return a value or switch a mode but add no SQL statement. */
const NO_SQL_METHODS = new Set(['func', 'noTransaction', 'isUsingTransaction', 'getSql', 'getSqlSteps', 'enableReverseMode']);

/** The last syntax tree parsed per file, with its text: the file rules, the type stripper and the locator share it. */
const parsed = new Map<string, { text: string; source: SourceFile }>();

/** The file's syntax tree (with parent nodes), parsed once per version of its text. */
export function parseSource(file: string, text: string): SourceFile {
  const known = parsed.get(file);
  if (known?.text === text) return known.source;
  const ts = typescript();
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(ts, file));
  parsed.set(file, { text, source });
  return source;
}

/**
 * Finds the `up` export: ESM (`export function up`, `export const up = …`, `export { x as up }`, `export default { up }`)
 * and CommonJS (`exports.up = …`, `module.exports.up = …`, `module.exports = { up }`).
 */
export function findUpExport(source: SourceFile): UpExport {
  const ts = typescript();
  let result: UpExport = { kind: 'absent' };
  const localFunction = (name: string): FunctionLike | undefined => {
    for (const statement of source.statements) {
      if (ts.isFunctionDeclaration(statement) && statement.name?.text === name) return statement;
      if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          if (ts.isIdentifier(declaration.name) && declaration.name.text === name) return functionOf(ts, declaration.initializer);
        }
      }
    }
    return undefined;
  };
  const fromObject = (object: Expression): UpExport | undefined => {
    const inner = skipParentheses(ts, object);
    if (!ts.isObjectLiteralExpression(inner)) return undefined;
    for (const property of inner.properties) {
      if (ts.isSpreadAssignment(property)) return { kind: 'unknown' };
      if (property.name && propertyName(ts, property.name) === 'up') {
        if (ts.isMethodDeclaration(property)) return { kind: 'present', fn: property };
        if (ts.isShorthandPropertyAssignment(property)) return { kind: 'present', fn: localFunction('up') };
        if (ts.isPropertyAssignment(property)) return { kind: 'present', fn: functionOf(ts, property.initializer) ?? identifierFunction(property.initializer) };
      }
    }
    return { kind: 'absent' };
  };
  const identifierFunction = (expression: Expression): FunctionLike | undefined => {
    const inner = skipParentheses(ts, expression);
    return ts.isIdentifier(inner) ? localFunction(inner.text) : undefined;
  };
  const settle = (found: UpExport) => {
    // `present` wins over everything; `unknown` over `absent`.
    if (result.kind === 'present') return;
    if (found.kind === 'present' || found.kind === 'unknown') result = found;
  };

  for (const statement of source.statements) {
    const exported = ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
    if (exported && ts.isFunctionDeclaration(statement) && statement.name?.text === 'up') settle({ kind: 'present', fn: statement });
    if (exported && ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name) && declaration.name.text === 'up')
          settle({ kind: 'present', fn: functionOf(ts, declaration.initializer) ?? (declaration.initializer && identifierFunction(declaration.initializer)) });
      }
    }
    if (ts.isExportDeclaration(statement)) {
      if (!statement.exportClause || ts.isNamespaceExport(statement.exportClause)) {
        if (!statement.exportClause) settle({ kind: 'unknown' }); // export * from '…'
        continue;
      }
      for (const element of statement.exportClause.elements) {
        if (element.name.text !== 'up') continue;
        settle({ kind: 'present', fn: statement.moduleSpecifier ? undefined : localFunction((element.propertyName ?? element.name).getText(source)) });
      }
    }
    if (ts.isExportAssignment(statement)) settle(fromObject(statement.expression) ?? { kind: 'unknown' });
    if (
      ts.isExpressionStatement(statement) &&
      ts.isBinaryExpression(statement.expression) &&
      statement.expression.operatorToken.kind === ts.SyntaxKind.EqualsToken
    ) {
      const { left, right } = statement.expression;
      const target = left.getText(source).replace(/\s+/g, '');
      if (target === 'exports.up' || target === 'module.exports.up' || target === "exports['up']" || target === "module.exports['up']") {
        settle({ kind: 'present', fn: functionOf(ts, right) ?? identifierFunction(right) });
      } else if (target === 'module.exports') {
        settle(fromObject(right) ?? { kind: 'unknown' });
      }
    }
  }
  return result;
}

/** Every `<pgm>.<method>(…)` call inside the `up` function, in source order; `<pgm>` is up's first parameter. */
export function pgmCalls(source: SourceFile, up: FunctionLike | undefined): PgmCall[] {
  const ts = typescript();
  const [first] = up?.parameters ?? [];
  if (!up?.body || !first || !ts.isIdentifier(first.name)) return [];
  const pgm = first.name.text;
  const calls: PgmCall[] = [];
  const visit = (node: Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = skipParentheses(ts, node.expression);
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === pgm && ts.isIdentifier(callee.name)) {
        const { line, character } = source.getLineAndCharacterOfPosition(callee.getStart(source));
        calls.push({ method: callee.name.text, line: line + 1, column: character + 1, emitsSql: !NO_SQL_METHODS.has(callee.name.text) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(up.body);
  return calls;
}

/**
 * The 1-based line of each `pgm.<method>(…)` call that adds SQL, inside the exported `up` function, in source order:
 * for mapping the statements a migration renders back to the lines that wrote them.
 *
 * Limits (it reads the syntax, it does not run the migration):
 * - One line per call, but a call may render several statements (`createTable` with comments or inline indexes) and a
 *   call in a loop or a branch renders zero or many: map statement i to line i only when the counts agree.
 * - Calls that add no SQL are left out: `pgm.func()` (a value inside another call), `pgm.noTransaction()`,
 *   `isUsingTransaction`, `getSql`, `getSqlSteps`, `enableReverseMode`; so is `pgm.db.query()` (runs at once).
 * - Only direct calls on up's first parameter, whatever its name: not through an alias (`const b = pgm`), a
 *   destructured parameter, `pgm['sql'](…)`, or helper functions defined outside `up`.
 * - `up` is found as `findUpExport` finds it; when it is exported but not as a function written in this file
 *   (`export { up } from './x'`, `module.exports = build()`) the result is empty. So is a file that cannot be read.
 */
export function pgmCallLines(file: string): number[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const source = parseSource(file, text);
  const up = findUpExport(source);
  return up.kind === 'present'
    ? pgmCalls(source, up.fn)
        .filter((call) => call.emitsSql)
        .map((call) => call.line)
    : [];
}

function functionOf(ts: TS, expression: Expression | undefined): FunctionLike | undefined {
  if (!expression) return undefined;
  let inner = skipParentheses(ts, expression);
  while (ts.isAsExpression(inner) || ts.isSatisfiesExpression(inner) || ts.isTypeAssertionExpression(inner)) inner = skipParentheses(ts, inner.expression);
  return ts.isArrowFunction(inner) || ts.isFunctionExpression(inner) ? inner : undefined;
}

function skipParentheses(ts: TS, expression: Expression): Expression {
  let inner = expression;
  while (ts.isParenthesizedExpression(inner)) inner = inner.expression;
  return inner;
}

function propertyName(ts: TS, name: import('typescript').PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return undefined;
}

function scriptKind(ts: TS, file: string): import('typescript').ScriptKind {
  const extension = file.slice(file.lastIndexOf('.')).toLowerCase();
  if (extension === '.ts' || extension === '.mts' || extension === '.cts') return ts.ScriptKind.TS;
  return ts.ScriptKind.JS;
}
