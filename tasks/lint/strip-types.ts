// A fast way to load the common TypeScript migration for linting: its types blanked out in place and its `export`s
// turned into CommonJS assignments appended at the end, so that every line (and the column of every value) stays where
// it is in the file: stack traces, which locate each builder call, read the same as under jiti. jiti's transform
// (Babel) costs ~10 ms per file the first time it sees it; this costs a parse. Only migrations that need nothing at run
// time but their own code take this path (a type-only `import`, no value import, no `require`, no dynamic import, no
// enum or namespace, no `export default`): anything else, or anything this code does not know, returns undefined and is
// loaded by jiti as before.
import { createRequire } from 'node:module';
import path from 'node:path';
import { compileFunction } from 'node:vm';
import { parseSource } from './migration-source';
import { typescript } from './typescript-check';

type TS = typeof import('typescript');
type Node = import('typescript').Node;
type SourceFile = import('typescript').SourceFile;

/** Extensions this path handles: `.ts` only (`.mts` may use top-level await; JS goes through jiti as before). */
const STRIPPABLE = new Set(['.ts']);

/**
 * The file's text as CommonJS JavaScript with the same lines, or undefined when it needs more than blanking (see the
 * top of this file). Blanked characters become spaces; newlines are kept.
 */
export function stripTypes(file: string, text: string): string | undefined {
  if (!STRIPPABLE.has(path.extname(file).toLowerCase())) return undefined;
  // Cheap refusals before a parse: anything loaded at run time, and syntax whose meaning the blanking would change.
  if (/\brequire\s*\(|\bimport\s*\(|\bimport\.meta\b|\bmodule\s*\.|\bexports\s*[.[]|^#!/.test(text)) return undefined;
  const stripper = new Stripper(typescript(), parseSource(file, text), text);
  return stripper.run();
}

class Stripper {
  readonly #blank: [number, number][] = [];
  readonly #exports: [string, string][] = [];
  /** Names bound by imports (all must turn out to be used as types only). */
  readonly #imported = new Set<string>();
  #ok = true;

  constructor(
    private readonly ts: TS,
    private readonly source: SourceFile,
    private readonly text: string,
  ) {}

  run(): string | undefined {
    const { source } = this;
    if ((source as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics?.length) return undefined;
    for (const statement of source.statements) {
      this.statement(statement);
      if (!this.#ok) return undefined;
    }
    if (!this.#ok) return undefined;
    let code = '';
    let at = 0;
    for (const [start, end] of this.#blank.sort((a, b) => a[0] - b[0])) {
      if (start < at) return undefined; // overlapping ranges: not a shape this code knows
      code += this.text.slice(at, start) + this.text.slice(start, end).replace(/[^\n\r]/g, ' ');
      at = end;
    }
    code += this.text.slice(at);
    const assignments = this.#exports.map(([name, local]) => `exports[${JSON.stringify(name)}] = ${local};`).join(' ');
    // Strict, as the ES module it is (prepended on line 1, so that no line moves).
    return `"use strict"; ${code}\n;Object.defineProperty(exports, "__esModule", { value: true }); ${assignments}\n`;
  }

  #refuse(): void {
    this.#ok = false;
  }

  #exportModifier(node: Node): Node | undefined {
    const { ts } = this;
    return ts.canHaveModifiers(node) ? ts.getModifiers(node)?.find((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword) : undefined;
  }

  statement(node: Node): void {
    const { ts } = this;
    if (ts.isImportDeclaration(node)) return this.#import(node);
    if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return this.#blankNode(node);
    if (ts.isExportDeclaration(node)) {
      if (node.isTypeOnly) return this.#blankNode(node);
      if (node.moduleSpecifier || !node.exportClause || !ts.isNamedExports(node.exportClause)) return this.#refuse();
      for (const element of node.exportClause.elements) {
        if (element.isTypeOnly) continue;
        this.#exports.push([element.name.text, (element.propertyName ?? element.name).getText(this.source)]);
      }
      return this.#blankNode(node);
    }
    if (ts.isExportAssignment(node)) return this.#refuse();
    const modifiers = ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : [];
    if (modifiers.some((modifier) => modifier.kind === ts.SyntaxKind.DeclareKeyword)) return this.#blankNode(node);
    if (modifiers.some((modifier) => modifier.kind === ts.SyntaxKind.DefaultKeyword)) return this.#refuse();
    const exported = this.#exportModifier(node);
    if (exported) {
      if (ts.isVariableStatement(node)) {
        for (const declaration of node.declarationList.declarations) {
          if (!ts.isIdentifier(declaration.name)) return this.#refuse();
          this.#exports.push([declaration.name.text, declaration.name.text]);
        }
      } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name) {
        this.#exports.push([node.name.text, node.name.text]);
      } else return this.#refuse();
      this.#blank.push([exported.getStart(this.source), exported.getEnd()]);
    }
    this.#visit(node);
  }

  #import(node: import('typescript').ImportDeclaration): void {
    const { ts } = this;
    const clause = node.importClause;
    // `import 'x'` runs x: not type-only.
    if (!clause) return this.#refuse();
    if (!clause.isTypeOnly) {
      if (clause.name) this.#imported.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) this.#imported.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const element of bindings.elements) if (!element.isTypeOnly) this.#imported.add(element.name.text);
    }
    this.#blankNode(node);
  }

  #blankNode(node: Node): void {
    this.#blank.push([node.getStart(this.source), node.getEnd()]);
  }

  /** From the `:` before `type` to its end. */
  #blankAnnotation(type: Node): void {
    const start = this.text.lastIndexOf(':', type.getStart(this.source));
    if (start < 0) return this.#refuse();
    this.#blank.push([start, type.getEnd()]);
  }

  #visit(node: Node): void {
    const { ts } = this;
    if (!this.#ok) return;
    if (ts.isIdentifier(node)) {
      if (this.#imported.has(node.text)) this.#refuse(); // an imported name used as a value: it must be loaded
      return;
    }
    if (
      ts.isEnumDeclaration(node) ||
      ts.isModuleDeclaration(node) ||
      ts.isDecorator(node) ||
      ts.isImportEqualsDeclaration(node) ||
      ts.isClassLike(node) ||
      ts.isMetaProperty(node) ||
      ts.isJsxElement(node) ||
      ts.isTypeAssertionExpression(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node)
    ) {
      return this.#refuse();
    }
    if (ts.isParameter(node)) {
      if ((ts.getModifiers(node) ?? []).length > 0) return this.#refuse(); // parameter properties
      if (ts.isIdentifier(node.name) && node.name.text === 'this') return this.#refuse();
      if (node.questionToken) this.#blank.push([node.questionToken.getStart(this.source), node.questionToken.getEnd()]);
    }
    if (ts.isVariableDeclaration(node) && node.exclamationToken) return this.#refuse();
    if (
      (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) &&
      !node.body // an overload signature
    ) {
      return this.#refuse();
    }
    if (ts.isAsExpression(node) || ts.isSatisfiesExpression(node)) {
      this.#visit(node.expression);
      this.#blank.push([node.expression.getEnd(), node.getEnd()]);
      return;
    }
    if (ts.isNonNullExpression(node)) {
      this.#visit(node.expression);
      this.#blank.push([node.expression.getEnd(), node.getEnd()]);
      return;
    }
    if (ts.isExpressionWithTypeArguments(node) || ts.isTypeNode(node)) return this.#refuse(); // reached only where the cases below miss one
    const withType = node as Node & {
      type?: Node;
      typeParameters?: import('typescript').NodeArray<Node>;
      typeArguments?: import('typescript').NodeArray<Node>;
    };
    if (withType.typeParameters?.length || withType.typeArguments?.length) return this.#refuse();
    if (withType.type && (ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isFunctionLike(node) || ts.isPropertyDeclaration(node))) {
      if (ts.isArrowFunction(node) && this.#lineBreakBefore(node.equalsGreaterThanToken.getStart(this.source), withType.type)) return this.#refuse();
      this.#blankAnnotation(withType.type);
    }
    ts.forEachChild(node, (child) => {
      if (child === withType.type) return;
      this.#visit(child);
    });
  }

  /** Blanking an arrow function's return type must not leave a line break before `=>` (a syntax error). */
  #lineBreakBefore(arrow: number, type: Node): boolean {
    return /[\n\r]/.test(this.text.slice(this.text.lastIndexOf(')', type.getStart(this.source)), arrow));
  }
}

/**
 * Compiles stripped code as the CommonJS module of `file` (its own path, so that stack traces name it, lines as in the
 * file); undefined when it does not compile (the caller then loads the file through jiti, whose message it reports).
 * Running the result runs the module's top-level code and returns its exports, or throws what that code throws.
 */
export function compileStripped(file: string, code: string): (() => Record<string, unknown>) | undefined {
  let run: (...args: unknown[]) => unknown;
  try {
    run = compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file }) as (...args: unknown[]) => unknown;
  } catch {
    return undefined;
  }
  return () => {
    const module = { exports: {} as Record<string, unknown> };
    run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
    return module.exports;
  };
}
