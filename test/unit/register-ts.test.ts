import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/project';

describe('loader/register-ts.cjs (the TypeScript loader of .gulp.js, mocha and the bench)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(REPO_ROOT, '.test-register-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (file: string) => spawnSync(process.execPath, ['-r', path.join(REPO_ROOT, 'loader', 'register-ts.cjs'), file], { cwd: dir, encoding: 'utf8' });

  it('runs TypeScript with types stripped, relative imports and dynamic import() of a package', () => {
    writeFileSync(path.join(dir, 'helper.ts'), 'export const twice = (n: number): number => n * 2;\n');
    writeFileSync(
      path.join(dir, 'main.ts'),
      "import { twice } from './helper';\ninterface Shape { n: number }\nconst shape: Shape = { n: 21 };\n" +
        "void import('pg').then((pg) => console.log(twice(shape.n), typeof pg.Client));\n",
    );
    const result = run(path.join(dir, 'main.ts'));
    expect(result.stderr).to.equal('');
    expect(result.stdout).to.equal('42 function\n');
  });

  it('fails on a file it cannot parse, naming the file, line and column (instead of loading an empty module)', () => {
    writeFileSync(path.join(dir, 'broken.ts'), "export const ok = 1;\nexport const a = 'x's';\n");
    const result = run(path.join(dir, 'broken.ts'));
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include(`SyntaxError: Missing semicolon. (${path.join(dir, 'broken.ts')}:2:21)`);
  });
});
