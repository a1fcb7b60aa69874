import { quote } from 'shell-quote';

/**
 * `text` as one word of a shell command in a hint (a path with spaces or quotes stays one argument when the command is
 * pasted); plain paths are left as they are.
 * @example shellArg('my migrations/') // "'my migrations/'"
 */
export function shellArg(text: string): string {
  return quote([text]);
}
