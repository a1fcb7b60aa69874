import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TaskError } from '../../tasks/util/errors';
import { readVerifyExceptions, VERIFY_EXCEPTIONS_FILE } from '../../tasks/sources/verify-exceptions';

describe('.pgmt-verify.json', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'pgmt-verify-exceptions-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const read = (content: unknown) => {
    writeFileSync(path.join(dir, VERIFY_EXCEPTIONS_FILE), JSON.stringify(content));
    return readVerifyExceptions(dir);
  };

  it('is optional: no file accepts nothing', () => {
    expect(readVerifyExceptions(dir)).to.deep.equal({ migrations: {} });
  });

  it("keeps only the keys an entry gives, so a migration without a reason keeps the top level's when merged", () => {
    const exceptions = read({ leaves: ['extension'], reason: 'extensions stay installed', migrations: { '1700_a': { leaves: ['index'] } } });
    expect(exceptions.migrations['1700_a']).to.deep.equal({ leaves: ['index'] });
    expect({ ...exceptions.all, ...exceptions.migrations['1700_a'] }.reason).to.equal('extensions stay installed');
  });

  it('refuses "irreversible" at the top level (it would accept every down), naming where it belongs', () => {
    expect(() => read({ irreversible: true })).to.throw(TaskError, /"irreversible" belongs to one migration, under "migrations"/);
  });

  it('names an unknown key and a wrong type', () => {
    expect(() => read({ migrations: { '1700_a': { irreversable: true } } })).to.throw(TaskError, /"1700_a" has unknown key irreversable/);
    expect(() => read({ leaves: 'extension' })).to.throw(TaskError, /the top level\.leaves must be a list of strings/);
  });
});
