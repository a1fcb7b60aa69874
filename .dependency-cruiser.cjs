// The layering rule of docs/architecture.md, checked by test/unit/architecture.test.ts (and `npm run lint:arch`).
// A module may import only from its own layer and the layers listed for it; gulp only from the adapter; no cycles.
/** Each layer of tasks/ and the layers below it that it may import. */
const LAYERS = {
  util: [],
  settings: ['util'],
  db: ['settings', 'util'],
  sources: ['settings', 'util'],
  lint: ['sources', 'settings', 'util'],
  providers: ['db', 'settings', 'util'],
  engine: ['providers', 'lint', 'sources', 'db', 'settings', 'util'],
  gulp: ['engine', 'providers', 'lint', 'sources', 'db', 'settings', 'util'],
};
const ALL = Object.keys(LAYERS);

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const forbidden = ALL.filter((other) => other !== layer && !allowed.includes(other));
  return {
    name: `layer-${layer}`,
    comment: `tasks/${layer}/ may import only ${allowed.length ? allowed.map((name) => `tasks/${name}/`).join(', ') : 'itself'} (docs/architecture.md)`,
    severity: 'error',
    from: { path: `^tasks/${layer}/` },
    to: { path: [`^tasks/[^/]+\\.ts$`, ...(forbidden.length ? [`^tasks/(${forbidden.join('|')})/`] : [])] },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'a cycle, type-only imports included, makes two modules one: break it by moving what both need one layer down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'gulp-only-in-the-adapter',
      comment: 'gulp, its logger, vinyl and plugin-error are for tasks/gulp/ only: the engine and the layers below know nothing of gulp',
      severity: 'error',
      from: { path: '^tasks/', pathNot: '^tasks/gulp/' },
      to: { path: '(^|/)node_modules/(gulp|gulplog|plugin-error|vinyl|undertaker|undertaker-registry|glob-watcher)/' },
    },
    {
      name: 'gulpfile-uses-the-public-api',
      comment: 'gulpfile.ts is a consumer: it imports the public entries (tasks/index.ts, tasks/lint-api.ts) only',
      severity: 'error',
      from: { path: '^gulpfile\\.ts$' },
      to: { path: '^tasks/', pathNot: '^tasks/[^/]+\\.ts$' },
    },
    {
      name: 'library-not-from-tests',
      comment: 'the library never imports tests, the bench or the loader',
      severity: 'error',
      from: { path: '^tasks/' },
      to: { path: '^(test|bench|loader)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
