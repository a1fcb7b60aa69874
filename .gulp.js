// gulp-cli reads this file before it loads the gulpfile: requiring the hook here makes gulpfile.ts and tasks/ load
// through a cached transpiler (see loader/register-ts.cjs) instead of ts-node, without gulp's "Preloading" lines.
require('./loader/register-ts.cjs');

module.exports = {};
