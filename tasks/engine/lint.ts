import { BASELINE_FILE, readBaseline, writeBaseline } from '../lint/baseline';
import { countFindings, formatJson, formatText } from '../lint/format';
import { loadLinter } from '../lint/load';
import type { FileLintResult } from '../lint/types';
import type { LintFormat, SourceSettings } from '../settings/settings';
import { TaskError } from '../util/errors';
import type { Logger } from '../util/logger';
import { judgeLint, migrationNovelty, type Novelty } from './lint-policy';

/** The hint of a failed `gulp lint`: how to fix, suppress or configure a finding. */
export const LINT_FAILURE_HINT =
  'fix them; where a finding is intended, suppress it with a `-- lint-ignore rule-id` comment in the migration ' +
  '(`// lint-ignore rule-id` in .ts/.js), or set the rule\'s severity in .pgmt-lint.json: { "rules": { "rule-id": "warning" } }';

export interface LintProjectOptions {
  source: SourceSettings;
  /** text: the findings grouped by file, one log line each; json: one document through `write`. */
  format: LintFormat;
  logger: Logger;
  /** Where the json document goes (stdout, untouched by gulp's log prefix). */
  write: (text: string) => void;
  /** ANSI colours in the text report. */
  color: boolean;
  /** --all: judge history too. Default: only new migrations (history is one summary line). */
  all?: boolean;
  /** --update-baseline: accept today's findings in .pgmt-lint-baseline.json first. */
  updateBaseline?: boolean;
}

/**
 * `gulp lint`: lints every migration in the folder without a database and judges the new ones (not on the base
 * branch; every one without git), history being one summary line; prints the findings (or the JSON document), and
 * throws a TaskError when an error-level finding counts. Returns the findings that count.
 * @example await lintProject({ source: settings.source, format: 'text', logger: console, write: console.log, color: false })
 */
export async function lintProject({
  source,
  format,
  logger,
  write,
  color,
  all = false,
  updateBaseline = false,
}: LintProjectOptions): Promise<FileLintResult[]> {
  const { lintMigrationsFolder } = loadLinter();
  const linted = await lintMigrationsFolder({ migrationsDir: source.migrationsDir, projectDir: source.projectDir, ignorePattern: source.ignorePattern });
  if (updateBaseline) {
    const { findings, migrations } = writeBaseline(source.projectDir, linted);
    logger.info(
      `Wrote ${BASELINE_FILE}: ${findings === 1 ? '1 finding' : `${findings} findings`} in ${migrations === 1 ? '1 migration' : `${migrations} migrations`} accepted as they are (commit it); from now on only new findings count, \`gulp lint --all\` lists every one`,
    );
  }
  const novelty: Novelty = all ? { isNew: () => true, how: 'none' } : await migrationNovelty(source);
  const { results, history, accepted } = judgeLint(linted, {
    scope: all ? { mode: 'all' } : { mode: 'review' },
    novelty,
    baseline: all ? undefined : readBaseline(source.projectDir),
  });
  if (format === 'json') {
    write(
      formatJson(results, {
        projectDir: source.projectDir,
        ...(history + accepted > 0 ? { setAside: { history, accepted, base: novelty.base ?? null } } : {}),
      }),
    );
  } else {
    // One log line each; gulp drops empty lines, so the blank line between files is left out.
    for (const line of formatText(results, { projectDir: source.projectDir, color }).split('\n')) if (line) logger.info(line);
    if (history > 0) {
      logger.info(`${history === 1 ? '1 finding' : `${history} findings`} in migrations already on ${novelty.base}: \`gulp lint --all\` lists them`);
    }
    if (accepted > 0) logger.info(`${accepted === 1 ? '1 finding' : `${accepted} findings`} accepted by ${BASELINE_FILE}: \`gulp lint --all\` lists them`);
  }

  const errorsOnly = results.map(({ file, diagnostics }) => ({ file, diagnostics: diagnostics.filter(({ severity }) => severity === 'error') }));
  const { errors, filesWithProblems } = countFindings(errorsOnly);
  if (errors === 0) return results;
  const noun = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  // "file", not "migration": a broken .pgmt-lint.json is reported as a file of its own.
  throw new TaskError(`lint found ${noun(errors, 'error')} in ${noun(filesWithProblems, 'file')}`, { hint: LINT_FAILURE_HINT });
}
