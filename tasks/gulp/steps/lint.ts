import { lintProject } from '../../engine/lint';
import { shouldUseColor } from '../../lint/format';
import { need, type TaskContext } from '../context';
import { defineStep, type Step } from '../step';

export { LINT_FAILURE_HINT } from '../../engine/lint';

export interface LintTaskOptions {
  /** Where `--format json` writes its document. Default: process.stdout.write, so gulp's log prefix does not touch it. */
  write?: (text: string) => void;
  /** ANSI colours in the text report. Default: when stdout is a terminal, unless NO_COLOR (FORCE_COLOR, --color win). */
  color?: boolean;
}

/**
 * Lints every migration in the folder without a database: prints the findings grouped by file with a summary
 * (`--format json`: one JSON document on stdout instead), and fails when an error-level finding exists.
 * @example const lint = createLintTask(ctx);
 */
export function createLintTask(ctx: TaskContext, { write = (text) => void process.stdout.write(text), color }: LintTaskOptions = {}): Step<'settings', never> {
  return defineStep(
    ctx,
    {
      name: 'lintMigrations',
      description: 'Lint the migrations (no database needed); fails on an error-level finding',
      flags: ['format', 'all', 'updateBaseline', 'base', 'migrationsDir', 'ignorePattern'],
      requires: { migrates: true, connects: false },
      needs: ['settings'],
    },
    async () => {
      const { source, command } = need(ctx, 'settings', 'lintMigrations');
      const useColor = color ?? shouldUseColor({ env: ctx.env, argv: ctx.argv });
      await lintProject({
        source,
        format: command.format,
        logger: ctx.logger,
        write,
        color: useColor,
        all: command.all,
        updateBaseline: command.updateBaseline,
      });
    },
  );
}
