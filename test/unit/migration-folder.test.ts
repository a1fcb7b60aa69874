import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_IGNORE_PATTERN, readMigrationFolder } from '../../tasks/sources/migration-folder';

describe('readMigrationFolder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-folder-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const touch = (...names: string[]) => names.forEach((name) => writeFileSync(path.join(dir, name), '-- Up Migration\n'));

  it('lists the same files in the same order as node-pg-migrate getMigrationFilePaths', async () => {
    touch(
      '10_ten.sql',
      '9_nine.ts',
      '20241125103000123_utc.js',
      '1732500000000_b.sql',
      '1732500000000_a.ts',
      '1732500000000_a_b.ts',
      '.hidden.ts',
      '0003_index.cjs',
    );
    mkdirSync(path.join(dir, 'drafts'));
    symlinkSync(path.join(dir, '9_nine.ts'), path.join(dir, '11_link.ts'));
    const { getMigrationFilePaths } = await import('node-pg-migrate/migration');
    const theirs = await getMigrationFilePaths(dir);
    const ours = await readMigrationFolder(dir);
    expect(ours.migrations.map((migration) => migration.path)).to.deep.equal(theirs);
    expect(ours.migrations.map((migration) => migration.name)).to.deep.equal([
      '0003_index',
      '9_nine',
      '10_ten',
      '11_link',
      '1732500000000_a_b', // node-pg-migrate compares file names ignoring punctuation: "a_b.ts" sorts before "a.ts"
      '1732500000000_a',
      '1732500000000_b',
      '20241125103000123_utc',
    ]);
  });

  it('skips, by default, every entry that is not a migration, and names the rollbacks of .sql migrations', async () => {
    touch('1_a.sql', '1_a.down.sql', '3_orphan.down.sql', 'add_table.ts', 'package.json', '.gitkeep', '2_notes.md', '4_both.sql', '4_both.down.sql');
    writeFileSync(path.join(dir, '4_both.sql'), '-- Up Migration\nSELECT 1;\n-- Down Migration\nSELECT 2;\n');
    mkdirSync(path.join(dir, 'drafts'));
    mkdirSync(path.join(dir, 'down'));
    const folder = await readMigrationFolder(dir);
    expect(folder.migrations.map((migration) => migration.file)).to.deep.equal(['1_a.sql', '4_both.sql']);
    expect(folder.ignored).to.deep.equal([
      { file: '.gitkeep', reason: 'starts with ".": skipped', blocksMigrate: false },
      { file: '1_a.down.sql', reason: 'the rollback of 1_a.sql', blocksMigrate: false, rollback: true },
      { file: '2_notes.md', reason: 'not a migration (not .ts, .js or .sql): skipped', blocksMigrate: false },
      { file: '3_orphan.down.sql', reason: 'a rollback file without its migration (3_orphan.sql): skipped', blocksMigrate: false },
      {
        file: '4_both.down.sql',
        reason: 'not used: 4_both.sql has its own "-- Down Migration" section, which wins (keep one of the two)',
        blocksMigrate: false,
        rollback: true,
      },
      { file: 'add_table.ts', reason: 'not a migration (no numeric timestamp prefix): skipped', blocksMigrate: false },
      {
        file: 'down/',
        reason: 'the rollbacks of .sql migrations without a "-- Down Migration" section (down/<migration file>)',
        blocksMigrate: false,
        rollback: true,
      },
      { file: 'drafts/', reason: 'a folder: node-pg-migrate reads only the files directly in the migrations folder', blocksMigrate: false },
      { file: 'package.json', reason: 'not a migration (no numeric timestamp prefix): skipped', blocksMigrate: false },
    ]);
    // The runner, given the same pattern, loads exactly the same files.
    const { getMigrationFilePaths } = await import('node-pg-migrate/migration');
    expect(await getMigrationFilePaths(dir, { ignorePattern: DEFAULT_IGNORE_PATTERN })).to.deep.equal(folder.migrations.map((migration) => migration.path));
  });

  it('names a symbolic link that loops or points to a missing file as an entry that stops `gulp migrate`, with its target', async () => {
    touch('1_ok.sql', '5_real.sql');
    symlinkSync('2_loop.sql', path.join(dir, '2_loop.sql'));
    symlinkSync('../moved/3_moved.sql', path.join(dir, '3_moved.sql'));
    symlinkSync('5_real.sql', path.join(dir, '4_link.sql'));
    const folder = await readMigrationFolder(dir);
    expect(folder.migrations.map((migration) => migration.file)).to.deep.equal(['1_ok.sql', '4_link.sql', '5_real.sql']);
    expect(folder.ignored).to.deep.equal([
      { file: '2_loop.sql', reason: 'a symbolic link that loops (ELOOP): nothing can be read from it', blocksMigrate: true },
      { file: '3_moved.sql', reason: 'a symbolic link to a file that does not exist (../moved/3_moved.sql)', blocksMigrate: true },
    ]);
  });

  it("with the user's --ignore-pattern, explains the entries that stop `gulp migrate`", async () => {
    touch('1_a.sql', 'add_table.ts', '.gitkeep', '2_notes.md');
    mkdirSync(path.join(dir, 'drafts'));
    const folder = await readMigrationFolder(dir, '\\..*');
    expect(folder.dir).to.equal(path.resolve(dir));
    expect(folder.migrations.map((migration) => migration.file)).to.deep.equal(['1_a.sql']);
    expect(folder.ignored).to.deep.equal([
      { file: '.gitkeep', reason: 'matches --ignore-pattern: skipped', blocksMigrate: false },
      {
        file: '2_notes.md',
        reason: 'not a .ts, .js or .sql file: node-pg-migrate fails to load it ("Unknown file extension"), so `gulp migrate` fails; move it out of the folder',
        blocksMigrate: true,
      },
      {
        file: 'add_table.ts',
        reason:
          'no numeric timestamp prefix: node-pg-migrate cannot order it and `gulp migrate` fails while it is in the folder ("Cannot determine numeric prefix"); ' +
          'create migrations with `gulp migrate:create --name add_table` (or rename it to <timestamp>_name), and keep other files out of the folder',
        blocksMigrate: true,
      },
      { file: 'drafts/', reason: 'a folder: node-pg-migrate reads only the files directly in the migrations folder', blocksMigrate: false },
    ]);
  });
});
