// `gulp watch` without gulp-cli, for the Ctrl-C test: node -r ./loader/register-ts.cjs test/support/watch-main.ts <project dir> [flags]
// The task installs the real SIGINT/SIGTERM handlers (tasks/signals.ts); the test signals this process.
import { COMMANDS } from '../../tasks/gulp/commands';
import { runSteps } from '../../tasks/gulp/compose';
import { createContext } from '../../tasks/gulp/context';
import { stepFactories } from '../../tasks/gulp/step-factories';

const [cwd = process.cwd(), ...flags] = process.argv.slice(2);
// As gulp-cli shows gulplog by default: info and up.
const logger = { info: console.log, warn: console.warn, error: console.error };
const ctx = createContext({ logger, cwd, argv: ['watch', ...flags] });
runSteps(ctx, { name: 'watch', description: COMMANDS.watch.description, steps: COMMANDS.watch.steps(stepFactories(ctx)) }).then(
  () => console.log('The watch task resolved'),
  (error: unknown) => {
    console.error(String(error));
    process.exitCode = 1;
  },
);
