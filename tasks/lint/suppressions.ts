// Suppression comments: `// lint-ignore rule-id[, rule-id]` (TS/JS) and `-- lint-ignore rule-id` (SQL, also inside a
// pgm.sql string) silence those rules for the next line / statement; `lint-ignore-file rule-id` for the whole file.
// Anything after ` -- ` is a free-text reason. Comments are found with the TypeScript and PostgreSQL scanners, so a
// `lint-ignore` inside a string is not a directive.
import { lineIndex, type MigrationSql } from './migration-sql';
import { parseSource } from './migration-source';
import { sqlComments } from './sql-parser';

type TsNode = import('typescript').Node;

/** One `lint-ignore` comment. */
export interface Directive {
  ids: string[];
  /** `lint-ignore-file`: every finding of these rules in the file. */
  fileWide: boolean;
  /** Where the comment is (1-based), for reporting unknown rule ids. */
  line?: number;
  column?: number;
  /** Findings on these lines are silenced (TS/JS: the next line with code, or the comment's own line after code). */
  targetLines: number[];
  /** Statements silenced (`LocatedStatement.key`). */
  targetKeys: string[];
}

/** What a finding offers to be matched against directives. */
export interface Suppressible {
  ruleId: string;
  line?: number;
  /** Extra lines that also count (a builder call's first line). */
  anchorLines?: number[];
  /** The statement it is about. */
  statementKey?: string;
}

const MARKER = 'lint-ignore';

/** Whether a directive silences a finding. */
export function isSuppressed(finding: Suppressible, directives: readonly Directive[]): boolean {
  return directives.some((directive) => {
    if (!directive.ids.includes(finding.ruleId)) return false;
    if (directive.fileWide) return true;
    if (finding.statementKey && directive.targetKeys.includes(finding.statementKey)) return true;
    const lines = [...(finding.anchorLines ?? []), ...(finding.line ? [finding.line] : [])];
    return lines.some((line) => directive.targetLines.includes(line));
  });
}

/**
 * Parses one comment's text: `lint-ignore a, b -- reason` → `{ ids: ['a', 'b'], fileWide: false }`; undefined when
 * the comment is not a directive.
 */
export function parseDirective(comment: string): { ids: string[]; fileWide: boolean } | undefined {
  const body = comment
    .replace(/^(\/\/|--|\/\*+)/, '')
    .replace(/\*+\/$/, '')
    .trim();
  if (!body.startsWith(MARKER)) return undefined;
  const rest = body.slice(MARKER.length);
  const fileWide = rest.startsWith('-file');
  const list = (fileWide ? rest.slice('-file'.length) : rest).split(/\s--\s|\s--$/)[0]!;
  if (list && !/^\s/.test(list)) return undefined; // `lint-ignored`, `lint-ignore-line`: not ours
  return { ids: list.split(/[\s,]+/).filter(Boolean), fileWide };
}

/** Directives in the comments of a TS/JS file (only parsed when the file mentions `lint-ignore`). */
export function scriptDirectives(file: string, text: string): Directive[] {
  if (!text.includes(MARKER)) return [];

  const ts = require('typescript') as typeof import('typescript');
  let source: import('typescript').SourceFile;
  try {
    source = parseSource(file, text);
  } catch {
    return [];
  }
  const seen = new Set<number>();
  const comments: { pos: number; end: number }[] = [];
  const collect = (ranges: readonly { pos: number; end: number }[] | undefined) => {
    for (const range of ranges ?? []) {
      if (seen.has(range.pos)) continue;
      seen.add(range.pos);
      comments.push(range);
    }
  };
  const visit = (node: TsNode): void => {
    collect(ts.getLeadingCommentRanges(text, node.pos));
    collect(ts.getTrailingCommentRanges(text, node.end));
    ts.forEachChild(node, visit);
  };
  visit(source);
  collect(ts.getLeadingCommentRanges(text, source.endOfFileToken.pos));

  const lines = lineIndex(text);
  const directives: Directive[] = [];
  for (const { pos, end } of comments.sort((a, b) => a.pos - b.pos)) {
    const parsed = parseDirective(text.slice(pos, end));
    if (!parsed) continue;
    const at = lines(pos);
    const codeBefore = text.slice(pos - (at.column - 1), pos).trim() !== '';
    const target = codeBefore ? at.line : lines(nextCode(ts, text, end)).line;
    directives.push({ ...parsed, line: at.line, column: at.column, targetLines: [target], targetKeys: [] });
  }
  return directives;
}

/**
 * Directives in SQL comments: the whole file for `.sql` migrations, and the rendered SQL of a builder migration
 * (comments inside `pgm.sql('…')`). A directive applies to the statement it is in, the statement before it when it
 * trails code on the same line, or else the next statement.
 */
export function sqlDirectives(sql: MigrationSql): Directive[] {
  const directives: Directive[] = [];
  if (sql.kind === 'sql') {
    const offset = sql.sectionOffset ?? 0;
    const lines = lineIndex(sql.text);
    for (const comment of sql.text.includes(MARKER) ? sqlComments(sql.text) : []) {
      const parsed = parseDirective(comment.text);
      if (!parsed) continue;
      const at = lines(comment.start);
      const statement = targetStatement(
        sql,
        0,
        comment.start - offset,
        comment.end - offset,
        sql.text.slice(comment.start - (at.column - 1), comment.start).trim() !== '',
      );
      const location = statement ? sql.locate(0, statement.start) : undefined;
      directives.push({
        ...parsed,
        line: at.line,
        column: at.column,
        targetKeys: statement ? [statement.key] : [],
        targetLines: location?.line ? [location.line] : [],
      });
    }
    return directives;
  }
  sql.steps.forEach((step, index) => {
    if (!step.includes(MARKER)) return;
    for (const comment of sqlComments(step)) {
      const parsed = parseDirective(comment.text);
      if (!parsed) continue;
      const lineStart = step.lastIndexOf('\n', comment.start - 1) + 1;
      const statement = targetStatement(sql, index, comment.start, comment.end, step.slice(lineStart, comment.start).trim() !== '');
      const at = sql.locate(index, comment.start);
      directives.push({ ...parsed, line: at.line, column: at.column, targetKeys: statement ? [statement.key] : [], targetLines: [] });
    }
  });
  return directives;
}

function targetStatement(sql: MigrationSql, step: number, start: number, end: number, trailing: boolean) {
  const statements = sql.statements.filter((statement) => statement.step === step);
  const inside = statements.find((statement) => statement.start <= start && start < statement.end);
  if (inside) return inside;
  if (trailing) {
    const before = statements.filter((statement) => statement.end <= start);
    if (before.length > 0) return before[before.length - 1];
  }
  return statements.find((statement) => statement.start >= end);
}

/** The offset of the next token after `from`, skipping whitespace and comments. */
function nextCode(ts: typeof import('typescript'), text: string, from: number): number {
  let position = from;
  for (;;) {
    while (position < text.length && /\s/.test(text[position]!)) position += 1;
    const comments = ts.getLeadingCommentRanges(text, position);
    if (!comments?.length || comments[0]!.pos !== position) return position;
    position = comments[comments.length - 1]!.end;
  }
}
