import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashMigrationFileSync } from '../../tasks/db/checksums';
import { cachedChecksums, checksumCacheFile } from '../../tasks/engine/checksum-cache';

// migrate:status remembers the checksums of unchanged files (tasks/engine/checksum-cache.ts): what it reports must be
// what hashing every file would say, whatever changed in between.
describe('the checksum cache of migrate:status', () => {
  let project: string;
  let folder: string;
  const LATER = () => Date.now() + 60_000; // past the two seconds in which a file is too recent to be remembered
  beforeEach(() => {
    project = mkdtempSync(path.join(os.tmpdir(), 'pgmt-sums-'));
    folder = path.join(project, 'migrations');
    mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    mkdirSync(folder);
  });
  afterEach(() => rmSync(project, { recursive: true, force: true }));

  const files = (count: number) =>
    Array.from({ length: count }, (_, index) => {
      const file = path.join(folder, `${1_700_000_000_000 + index}_m${index}.sql`);
      writeFileSync(file, `-- Up Migration\nSELECT ${index};\n`);
      return file;
    });
  const counting = () => {
    const read: string[] = [];
    return { read, hash: (file: string) => (read.push(path.basename(file)), hashMigrationFileSync(file)) };
  };

  it('reads only the files that changed since the last run, and reports what hashing them all would', () => {
    const paths = files(3);
    const first = counting();
    expect(cachedChecksums(folder, paths, first.hash, { projectDir: project, now: LATER() })).to.deep.equal(paths.map(hashMigrationFileSync));
    expect(first.read).to.have.length(3);

    const second = counting();
    expect(cachedChecksums(folder, paths, second.hash, { projectDir: project, now: LATER() })).to.deep.equal(paths.map(hashMigrationFileSync));
    expect(second.read).to.deep.equal([]);

    writeFileSync(paths[1]!, '-- Up Migration\nSELECT 9;\n'); // same size, new content
    const third = counting();
    const sums = cachedChecksums(folder, paths, third.hash, { projectDir: project, now: LATER() });
    expect(third.read).to.deep.equal([path.basename(paths[1]!)]);
    expect(sums).to.deep.equal(paths.map(hashMigrationFileSync));
  });

  it('does not remember a file changed in the last two seconds', () => {
    const paths = files(1);
    cachedChecksums(folder, paths, hashMigrationFileSync, { projectDir: project });
    const again = counting();
    cachedChecksums(folder, paths, again.hash, { projectDir: project });
    expect(again.read).to.have.length(1);
  });

  it('hashes every file when the cache file is damaged, and keeps nothing without a node_modules folder', () => {
    const paths = files(2);
    cachedChecksums(folder, paths, hashMigrationFileSync, { projectDir: project, now: LATER() });
    writeFileSync(checksumCacheFile(project, folder)!, '{"format":1,"folder":');
    const damaged = counting();
    expect(cachedChecksums(folder, paths, damaged.hash, { projectDir: project, now: LATER() })).to.deep.equal(paths.map(hashMigrationFileSync));
    expect(damaged.read).to.have.length(2);

    rmSync(path.join(project, 'node_modules'), { recursive: true });
    expect(checksumCacheFile(project, folder)).to.satisfy((file: string | undefined) => file === undefined || !file.startsWith(project));
  });
});
