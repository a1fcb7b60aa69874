import type { Logger } from '../../tasks/util/logger';

/** A logger that remembers every line, for asserting what a user would read. */
export interface RecordingLogger extends Logger {
  lines: string[];
  /** Everything written, one line per message, as `level: message`. */
  text(): string;
}

export function createRecordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), text: () => lines.join('\n') };
}
