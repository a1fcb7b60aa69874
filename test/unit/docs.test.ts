import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILES, regenerate } from '../../docs/generate';
import { REPO_ROOT } from '../support/project';

describe('the generated tables of README.md and docs/', () => {
  for (const file of GENERATED_FILES) {
    it(`${file} holds the current command and flag tables (npm run docs writes them)`, () => {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      expect(text).to.match(/<!-- generated:\w+ -->/);
      expect(regenerate(text) === text, `${file} is not current: run \`npm run docs\``).to.equal(true);
    });
  }
});
