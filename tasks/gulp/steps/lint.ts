import { requireConfig, type TaskContext } from '../context';
import { defineTask, type DescribedTask } from '../define-task';
import { TaskError } from '../../util/errors';
import { countFindings, formatJson, formatText, shouldUseColor } from '../../lint/format';
import { loadLinter } from '../../lint/load';

export interface LintTaskOptions {
  /** Where `--format json` writes its document. Default: process.stdout.write, so gulp's log prefix does not touch it. */
  write?: (text: string) => void;
  /** ANSI colours in the text report. Default: when stdout is a terminal, unless NO_COLOR (FORCE_COLOR, --color win). */
  color?: boolean;
}

/** The hint of a failed `gulp lint`: how to fix, suppress or configure a finding. */
export const LINT_FAILURE_HINT =
  'fix them; where a finding is intended, suppress it with a `-- lint-ignore rule-id` comment in the migration ' +
  '(`// lint-ignore rule-id` in .ts/.js), or set the rule\'s severity in .pgmt-lint.json: { "rules": { "rule-id": "warning" } }';

/**
 * Lints every migration in the folder without a database: prints the findings grouped by file with a summary
 * (`--format json`: one JSON document on stdout instead), and fails when an error-level finding exists.
 * Wire it after `createEnsureEnvTask(ctx, { connects: false, migrates: true })`.
 */
export function createLintTask(ctx: TaskContext, { write = (text) => void process.stdout.write(text), color }: LintTaskOptions = {}): DescribedTask {
  return defineTask(
    ctx,
    { name: 'lint', description: 'Lint the migrations (no database needed); fails on an error-level finding', flags: ['format', 'migrationsDir', 'dotenv'] },
    async () => {
      const config = requireConfig(ctx);
      const { lintMigrationsFolder } = loadLinter();
      const results = await lintMigrationsFolder({ migrationsDir: config.migrationsDir, projectDir: config.projectDir, ignorePattern: config.ignorePattern });
      if (config.format === 'json') {
        write(formatJson(results, { projectDir: config.projectDir }));
      } else {
        const useColor = color ?? shouldUseColor({ env: ctx.env, argv: ctx.argv });
        // One log line each; gulp drops empty lines, so the blank line between files is left out.
        for (const line of formatText(results, { projectDir: config.projectDir, color: useColor }).split('\n')) if (line) ctx.logger.info(line);
      }

      const { errors, filesWithProblems } = countFindings(results.map(({ file, diagnostics }) => ({ file, diagnostics: diagnostics.filter(({ severity }) => severity === 'error') })));
      if (errors === 0) return;
      const noun = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
      // "file", not "migration": a broken .pgmt-lint.json is reported as a file of its own.
      throw new TaskError(`lint found ${noun(errors, 'error')} in ${noun(filesWithProblems, 'file')}`, { hint: LINT_FAILURE_HINT });
    },
  );
}
