import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/project';

// The layering rule of docs/architecture.md, as .dependency-cruiser.cjs states it, checked on the real tree.
type Violation = { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] };
type CruiseResult = { output: { summary: { violations: Violation[]; totalCruised: number } } };

async function cruise(root: string, entries: string[]): Promise<CruiseResult['output']['summary']> {
  const { cruise: run } = (await import('dependency-cruiser')) as unknown as {
    cruise: (files: string[], options: object, resolve?: object, transpile?: object) => Promise<CruiseResult>;
  };
  const config = require(path.join(REPO_ROOT, '.dependency-cruiser.cjs')) as { forbidden: object[]; options: object };
  const previous = process.cwd();
  process.chdir(root);
  try {
    const tsConfig = path.join(REPO_ROOT, 'tsconfig.json');
    const result = await run(entries, { ...config.options, ruleSet: { forbidden: config.forbidden }, tsConfig: { fileName: tsConfig }, validate: true });
    return result.output.summary;
  } finally {
    process.chdir(previous);
  }
}

const describeViolation = (violation: Violation) =>
  `${violation.rule.name}: ${violation.from} → ${violation.to}${violation.cycle ? ` (cycle ${violation.cycle.map((step) => step.name).join(' → ')})` : ''}`;

describe('the layering rule (docs/architecture.md)', function () {
  this.timeout(60_000);

  it('holds for tasks/ and gulpfile.ts: no upward import, no cycle, gulp only in the adapter', async () => {
    const summary = await cruise(REPO_ROOT, ['tasks', 'gulpfile.ts']);
    expect(summary.totalCruised).to.be.greaterThan(100);
    expect(summary.violations.map(describeViolation)).to.deep.equal([]);
  });

  describe('catches what it forbids', () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(path.join(os.tmpdir(), 'pgmt-arch-'));
      for (const layer of ['util', 'engine', 'gulp', 'db']) mkdirSync(path.join(root, 'tasks', layer), { recursive: true });
      writeFileSync(path.join(root, 'tasks', 'util', 'errors.ts'), 'export const x = 1;\n');
      writeFileSync(path.join(root, 'tasks', 'gulp', 'context.ts'), "import { x } from '../util/errors';\nexport const ctx = x;\n");
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('an engine module that imports the gulp adapter', async () => {
      writeFileSync(path.join(root, 'tasks', 'engine', 'run.ts'), "import { ctx } from '../gulp/context';\nexport const run = ctx;\n");
      const { violations } = await cruise(root, ['tasks']);
      expect(violations.map(describeViolation)).to.deep.equal(['layer-engine: tasks/engine/run.ts → tasks/gulp/context.ts']);
    });

    it('a cycle, even between type-only imports', async () => {
      writeFileSync(path.join(root, 'tasks', 'db', 'a.ts'), "import type { B } from './b';\nexport type A = { b?: B };\n");
      writeFileSync(path.join(root, 'tasks', 'db', 'b.ts'), "import type { A } from './a';\nexport type B = { a?: A };\n");
      const { violations } = await cruise(root, ['tasks']);
      expect(violations.map((violation) => violation.rule.name)).to.include('no-circular');
    });
  });
});
