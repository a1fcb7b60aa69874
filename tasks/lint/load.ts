/**
 * The linter's API, loaded on first use rather than at import: the engine pulls in the TypeScript compiler and a WASM
 * PostgreSQL parser, which `gulp --tasks` and every task that never lints should not pay for. (A relative dynamic
 * `import()` would need a `.js` extension under node16 resolution, which the CommonJS loaders cannot resolve.)
 */
export function loadLinter(): typeof import('./index') {
  return require('./index') as typeof import('./index');
}
