import { TaskError } from '../util/errors';

/** The part of gulp the commands use: its series (so `gulp --tasks` shows the steps) and its watch. */
export interface GulpInstance {
  series(...tasks: never[]): unknown;
  watch(globs: never, options: never): unknown;
}

/**
 * The project's gulp: the one gulp-cli loaded (it resolves gulp from the project folder, and so does this; the module
 * cache makes it the same instance), else the one beside this package. Never loaded at import (gulp's plugin guidelines:
 * a library uses the gulp it is given).
 */
export function loadGulp(projectDir: string): GulpInstance {
  for (const from of [projectDir, __dirname]) {
    let resolved: string;
    try {
      resolved = require.resolve('gulp', { paths: [from] });
    } catch {
      continue;
    }
    return require(resolved) as GulpInstance;
  }
  throw new TaskError('gulp is not installed in this project', { hint: 'install it beside pg-migrate-tasks: `npm install --save-dev gulp@5`' });
}
