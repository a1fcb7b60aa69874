import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TaskError, messageOf } from '../util/errors';

/**
 * dotenv 17's own line pattern (node_modules/dotenv/lib/main.js, `LINE`): what it matches is a setting, anything else
 * it skips without a word. Kept identical so that what we call a skipped line is exactly what dotenv skips.
 */
const DOTENV_LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/** The variables these tasks read: a value of theirs cut short at `#` is a problem; other tools' variables are not ours to judge. */
const OUR_VARIABLE = /^(DATABASE_URL|DB_\w+|MIGRATIONS_\w+|KEEP_DB|COMPOSE_FILE)$/;

/**
 * Reads an environment file the way dotenv does and returns what dotenv would silently get wrong, one problem per
 * line: lines it skips (not NAME=value, a comment or blank), and values of our variables that an unquoted `#` cuts
 * short (`DB_PASSWORD=ab#cd` is read as `ab`). Problems name the line and the variable, never the value (it may be a
 * password). Throws a TaskError when the file exists but cannot be read (a folder, no permission).
 * @example const problems = checkEnvFile('/app/.env', '/app'); // ['.env line 3 is not NAME=value …']
 */
export function checkEnvFile(file: string, projectDir: string): string[] {
  const shown = path.relative(projectDir, file) || file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/\r\n?/g, '\n');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TaskError(`cannot read ${shown}: ${messageOf(error)}`, {
      hint: `${shown} must be a readable file of NAME=value lines (see .env.example): fix or remove it, or pass --dotenv FILE; then run the command again`,
      cause: error,
    });
  }

  const problems: string[] = [];
  // Blank out every setting dotenv recognises (keeping its newlines, so line numbers hold); what is left was skipped.
  const rest = text.replace(DOTENV_LINE, (setting: string, name: string, value: string | undefined, offset: number) => {
    const leading = /^\s*/.exec(setting)![0];
    const line = lineNumber(text, offset + leading.length);
    const quote = openQuote(value, line);
    if (quote?.closesOn !== undefined && quote.swallowed.length > 0) {
      const swallowed =
        quote.swallowed.length === 1
          ? `line ${quote.swallowed[0]}, which looks like a setting`
          : `lines ${quote.swallowed.join(', ')}, which look like settings`;
      problems.push(
        `${shown} line ${line}: the value of ${name} opens a quote (${quote.mark}) that closes only on line ${quote.closesOn}, so ${swallowed}, would be read as part of the value: close the quote on line ${line}`,
      );
    } else if (quote && quote.closesOn === undefined && OUR_VARIABLE.test(name)) {
      problems.push(
        `${shown} line ${line}: the value of ${name} opens a quote (${quote.mark}) that is never closed, so ${name} would be read with the quote in it: close the quote`,
      );
    }
    if (OUR_VARIABLE.test(name) && cutAtHash(setting.slice(leading.length), value)) {
      problems.push(
        `${shown} line ${line}: the value of ${name} contains "#", which starts a comment when the value is not quoted, so ${name} would be read cut short there: put the value in quotes (${name}="…")`,
      );
    }
    return setting.replace(/[^\n]/g, '');
  });
  const skipped = rest
    .split('\n')
    .map((content, index) => ({ content: content.trim(), line: index + 1 }))
    .filter(({ content }) => content !== '' && !content.startsWith('#'))
    .map(({ line }) => line);
  if (skipped.length > 0) {
    const lines = skipped.length === 1 ? `line ${skipped[0]} is` : `lines ${skipped.join(', ')} are`;
    problems.unshift(`${shown}: ${lines} not NAME=value, a comment or blank, and would be ignored (the line is not shown: it may hold a secret)`);
  }
  return problems;
}

/** A line that reads as a setting of its own: an environment variable's name (upper case, as they are), then `=`. */
const SETTING_LIKE = /^\s*(?:export\s+)?[A-Z_][A-Z0-9_]*\s*=/;

/**
 * A value that starts with a quote: where dotenv found its closing quote (undefined: nowhere, so the value keeps the
 * quote), and the lines in between that look like settings of their own (NAME=…), which it reads as part of the value.
 */
function openQuote(value: string | undefined, line: number): { mark: string; closesOn?: number; swallowed: number[] } | undefined {
  const quoted = /^\s*(['"`])/.exec(value ?? '');
  if (!quoted) return undefined;
  const mark = quoted[1]!;
  const body = value!.trimStart();
  if (body.length < 2 || !body.endsWith(mark)) return { mark, swallowed: [] };
  const lines = body.split('\n');
  const swallowed = lines
    .slice(1, -1)
    .map((text, index) => ({ text, line: line + 1 + index }))
    .filter(({ text }) => SETTING_LIKE.test(text))
    .map(({ line: at }) => at);
  // The closing line itself reads as a setting up to the quote (`DB_USER=app'`): swallowed as well.
  if (lines.length > 1 && SETTING_LIKE.test(lines.at(-1)!)) swallowed.push(line + lines.length - 1);
  return { mark, closesOn: line + lines.length - 1, swallowed };
}

/** Whether an unquoted value was cut at a `#` that is not preceded by whitespace (so it was meant as part of the value). */
function cutAtHash(setting: string, value: string | undefined): boolean {
  if (value !== undefined && /^\s*['"`]/.test(value)) return false;
  const firstLine = setting.split('\n', 1)[0]!;
  const afterSeparator = /^(?:export\s+)?[\w.-]+(?:\s*=|:\s)/.exec(firstLine);
  if (!afterSeparator) return false;
  const raw = firstLine.slice(afterSeparator[0].length);
  const hash = raw.indexOf('#');
  return hash !== -1 && (hash === 0 || !/\s/.test(raw[hash - 1]!));
}

function lineNumber(text: string, offset: number): number {
  let line = 1;
  for (let index = text.indexOf('\n'); index !== -1 && index < offset; index = text.indexOf('\n', index + 1)) line += 1;
  return line;
}
