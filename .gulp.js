// gulp-cli reads this file before it loads the gulpfile: requiring the hook here makes gulpfile.ts and tasks/ load
// through a cached transpiler (see tasks/register-ts.cjs) instead of ts-node, without gulp's "Preloading" lines.
require('./tasks/register-ts.cjs');

module.exports = {};
