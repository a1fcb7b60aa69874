// `gulp watch` without gulp-cli, for the Ctrl-C test: node -r ./loader/register-ts.cjs test/support/watch-main.ts <project dir> [flags]
// The task installs the real SIGINT/SIGTERM handlers (tasks/signals.ts); the test signals this process.
import { createContext } from '../../tasks/gulp/context';
import { createWatchTask } from '../../tasks/gulp/steps/watch';

const [cwd = process.cwd(), ...flags] = process.argv.slice(2);
// As gulp-cli shows gulplog by default: info and up.
const logger = { info: console.log, warn: console.warn, error: console.error };
const ctx = createContext({ logger, cwd, argv: ['watch', ...flags] });
createWatchTask(ctx)().then(
  () => console.log('The watch task resolved'),
  (error: unknown) => {
    console.error(String(error));
    process.exitCode = 1;
  },
);
