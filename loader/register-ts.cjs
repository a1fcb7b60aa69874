'use strict';
/**
 * Loads `.ts` files with jiti's transpiler and its on-disk cache (node_modules/.cache/jiti, keyed by a hash of the
 * source): a warm start reads the cached JavaScript instead of loading the TypeScript compiler. It type-checks
 * nothing (`npm run typecheck` does). `.gulp.js` preloads it for gulp; `.mocharc.json` and the bench use it too.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { createJiti } = require('jiti');

if (!require.extensions['.ts']) {
  // An explicit folder: left to itself, jiti looks for node_modules beside this file, finds none, and falls back to
  // TMPDIR (where Node 20's recursive mkdir loops forever on a TMPDIR such as /proc).
  const fsCache = path.join(path.dirname(require.resolve('jiti/package.json')), '..', '.cache', 'jiti');
  const jiti = createJiti(__filename, { fsCache });
  require.extensions['.ts'] = function loadTypeScript(module, filename) {
    const source = readFileSync(filename, 'utf8');
    const code = jiti.transform({ source, filename, ts: true });
    // jiti's output calls jitiImport() for a dynamic import(); outside jiti that is the native import() (hoisted, and
    // appended so line numbers in stack traces stay those of the source).
    module._compile(`${code}\nfunction jitiImport(specifier) { return import(specifier); }\n`, filename);
    // A file jiti cannot parse compiles to `exports.__JITI_ERROR__ = {…}` (jiti's own loader throws it): so do we.
    const parseError = module.exports && module.exports.__JITI_ERROR__;
    if (parseError) {
      throw new SyntaxError(`${parseError.message.trim()} (${filename}:${parseError.line}:${parseError.column + 1})`);
    }
  };
}
