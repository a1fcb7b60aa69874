// PostgreSQL's own parser (libpg-query, a WASM build of the server's grammar), wrapped for the linter: statements with
// their character offsets, comments from the server's scanner, and syntax errors with a position.

// Types only: the WASM module is loaded on the first lint, not when the gulpfile starts.
type LibPgQuery = typeof import('libpg-query');

/** A parse tree node as libpg-query returns it: `{ "CreateStmt": { … } }`, fields omitted when zero/false/empty. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the node shapes are PostgreSQL's, checked at use.
export type PgNode = Record<string, any>;

/** One top-level statement of a SQL text. */
export interface SqlStatement {
  /** Node type, e.g. `IndexStmt`. */
  kind: string;
  /** The node's fields. */
  node: PgNode;
  /** Character offsets in the parsed text: from the statement's first token to its end (without the `;`). */
  start: number;
  end: number;
  /** The statement's text (`text.slice(start, end)`). */
  text: string;
}

/** A statement the parser rejected. */
export interface SqlSyntaxError {
  /** The parser's message, e.g. `syntax error at or near "selec"`. */
  message: string;
  /** Character offset of the error in the parsed text. */
  offset: number;
}

export interface ParsedSql {
  statements: SqlStatement[];
  errors: SqlSyntaxError[];
}

/** A comment, as the server's scanner sees it (never one inside a string or a dollar-quoted body). */
export interface SqlComment {
  /** Whole comment, with its `--` or slash-star markers. */
  text: string;
  start: number;
  end: number;
}

let parser: LibPgQuery | undefined;
let loading: Promise<LibPgQuery> | undefined;

/** Loads the WASM parser once per process (~30 ms); every other function here needs it loaded. */
export async function loadSqlParser(): Promise<void> {
  loading ??= (async () => {
    const module = require('libpg-query') as LibPgQuery;
    await module.loadModule();
    parser = module;
    return module;
  })();
  await loading;
}

function loaded(): LibPgQuery {
  if (!parser) throw new Error('the SQL parser is not loaded: await loadSqlParser() first');
  return parser;
}

/**
 * Splits and parses SQL into statements. When the text does not parse, it is cut at the scanner's `;` tokens and each
 * piece is parsed on its own, so one bad statement yields one error and the others are still checked.
 */
export function parseSql(text: string): ParsedSql {
  try {
    return { statements: statementsOf(text, loaded().parseSync(text), 0), errors: [] };
  } catch (error) {
    const pieces = splitAtSemicolons(text);
    if (pieces.length <= 1) return { statements: [], errors: [syntaxError(error, 0)] };
    const parsed: ParsedSql = { statements: [], errors: [] };
    for (const { start, end } of pieces) {
      const piece = text.slice(start, end);
      try {
        parsed.statements.push(...statementsOf(piece, loaded().parseSync(piece), start));
      } catch (pieceError) {
        parsed.errors.push(syntaxError(pieceError, start));
      }
    }
    return parsed;
  }
}

/** The comments of a SQL text; none when the scanner cannot read it (an unterminated string). */
export function sqlComments(text: string): SqlComment[] {
  let tokens: { start: number; end: number; tokenName: string }[];
  try {
    tokens = loaded().scanSync(text).tokens;
  } catch {
    return [];
  }
  const toChars = byteToCharOffsets(text);
  return tokens
    .filter((token) => token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT')
    .map((token) => {
      const start = toChars(token.start);
      const end = toChars(token.end);
      return { text: text.slice(start, end), start, end };
    });
}

function statementsOf(text: string, result: { stmts?: { stmt?: PgNode; stmt_location?: number; stmt_len?: number }[] }, base: number): SqlStatement[] {
  const toChars = byteToCharOffsets(text);
  const statements: SqlStatement[] = [];
  for (const raw of result.stmts ?? []) {
    if (!raw.stmt) continue;
    const [kind] = Object.keys(raw.stmt);
    if (!kind) continue;
    const byteStart = raw.stmt_location ?? 0;
    // stmt_len is absent (0) for the last statement: it runs to the end of the text.
    const start = toChars(byteStart);
    let end = raw.stmt_len ? toChars(byteStart + raw.stmt_len) : text.length;
    while (end > start && /[\s;]/.test(text[end - 1]!)) end -= 1;
    statements.push({ kind, node: raw.stmt[kind] as PgNode, start: base + start, end: base + end, text: text.slice(start, end) });
  }
  return statements;
}

function syntaxError(error: unknown, base: number): SqlSyntaxError {
  const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
  return { message: details?.message ?? (error instanceof Error ? error.message : String(error)), offset: base + Math.max(0, details?.cursorPosition ?? 0) };
}

/** Pieces of the text between the scanner's top-level `;` tokens (character offsets); [] when it cannot scan. */
function splitAtSemicolons(text: string): { start: number; end: number }[] {
  let tokens: { start: number; end: number; text: string; tokenName: string }[];
  try {
    tokens = loaded().scanSync(text).tokens;
  } catch {
    return [];
  }
  const toChars = byteToCharOffsets(text);
  const pieces: { start: number; end: number }[] = [];
  let start = 0;
  for (const token of tokens) {
    if (token.text !== ';') continue;
    const end = toChars(token.end);
    if (text.slice(start, end).trim() !== ';') pieces.push({ start, end });
    start = end;
  }
  if (text.slice(start).trim()) pieces.push({ start, end: text.length });
  return pieces;
}

/** libpg-query reports UTF-8 byte offsets; JavaScript strings count UTF-16 units. Identity for ASCII text. */
function byteToCharOffsets(text: string): (byteOffset: number) => number {
  // eslint-disable-next-line no-control-regex -- exactly the ASCII range.
  if (!/[^\x00-\x7f]/.test(text)) return (offset) => offset;
  const chars: number[] = [];
  let bytes = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.codePointAt(index)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    for (let byte = 0; byte < size; byte += 1) chars[bytes + byte] = index;
    bytes += size;
    if (code >= 0x10000) index += 1;
  }
  chars[bytes] = text.length;
  return (offset) => chars[offset] ?? text.length;
}
