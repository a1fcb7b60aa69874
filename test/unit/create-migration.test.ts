import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createContext } from '../../tasks/gulp/context';
import { checkMigrationName, MAX_NAME_LENGTH, newestMigration, nextPrefix, parseMigrationFileName, suggestName } from '../../tasks/engine/create-migration';
import { createCreateMigrationTask } from '../../tasks/gulp/steps/create-migration';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { renderMigrationTemplate } from '../../tasks/sources/migration-templates';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

/** 2026-01-01T00:00:00.000Z */
const NOW = 1_767_225_600_000;

function failure(run: () => unknown): TaskError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(TaskError);
    return error as TaskError;
  }
  throw new Error('expected a TaskError');
}

describe('migrate:create', () => {
  describe('checkMigrationName', () => {
    it('accepts letters, digits, _ and -', () => {
      expect(checkMigrationName('add_new_table')).to.equal('add_new_table');
      expect(checkMigrationName('AddUsers-2')).to.equal('AddUsers-2');
      expect(checkMigrationName('2fa_secrets')).to.equal('2fa_secrets');
      expect(checkMigrationName('x'.repeat(MAX_NAME_LENGTH))).to.equal('x'.repeat(MAX_NAME_LENGTH));
    });

    it('asks for --name when there is none, with the npm form too', () => {
      expect(failure(() => checkMigrationName(undefined)).message).to.equal(
        'migrate:create needs a name for the new migration: --name NAME\n' +
          '  hint: run `gulp migrate:create --name add_new_table` (through npm: `npm run migrate:create -- --name add_new_table`)',
      );
    });

    it('rejects an empty or blank name', () => {
      for (const name of ['', '   ']) {
        expect(failure(() => checkMigrationName(name)).message).to.match(
          /^the migration name is empty\n {2}hint: run `gulp migrate:create --name add_new_table`/,
        );
      }
    });

    it('rejects whitespace and suggests the name with underscores', () => {
      expect(failure(() => checkMigrationName('add new table')).message).to.equal(
        'the migration name "add new table" is not safe in a file name or a shell command: it contains whitespace\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name add_new_table',
      );
    });

    it('rejects path separators and ".." (no file outside the migrations folder)', () => {
      expect(failure(() => checkMigrationName('../../etc/passwd')).message).to.equal(
        'the migration name "../../etc/passwd" is not safe in a file name or a shell command: it contains a path separator "/" and ".." (a path outside the folder)\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name etc_passwd',
      );
      expect(failure(() => checkMigrationName('a\\b')).message).to.include('it contains a path separator "\\"');
    });

    it('rejects every shell metacharacter, naming the ones found', () => {
      for (const character of [';', '$', '`', '|', '&', '<', '>', '*', '?', "'", '"', '(', '!', '#', '~']) {
        const error = failure(() => checkMigrationName(`add${character}users`));
        expect(error.message).to.equal(
          `the migration name "add${character}users" is not safe in a file name or a shell command: it contains the character ${character}\n` +
            '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name add_users',
        );
      }
      expect(failure(() => checkMigrationName('x; rm -rf ~ && echo $HOME')).message).to.include(
        'it contains whitespace and the characters ; ~ & $\n  hint: use only letters, digits, _ and -, starting with a letter or digit: --name x_rm_-rf_echo_HOME',
      );
    });

    it('rejects a name that starts with _ or -, and one with no usable character', () => {
      expect(failure(() => checkMigrationName('_private')).message).to.equal(
        'the migration name "_private" is not safe in a file name or a shell command: it must start with a letter or digit, not "_"\n' +
          '  hint: use only letters, digits, _ and -, starting with a letter or digit: --name private',
      );
      expect(failure(() => checkMigrationName(';;;')).hint).to.equal(
        'use only letters, digits, _ and -, starting with a letter or digit: --name add_new_table',
      );
    });

    it('suggests accents dropped for letters outside ASCII', () => {
      expect(failure(() => checkMigrationName('café_menu')).hint).to.match(/--name cafe_menu$/);
    });

    it('rejects a name over the length limit', () => {
      expect(failure(() => checkMigrationName('x'.repeat(MAX_NAME_LENGTH + 1))).message).to.equal(
        `the migration name is ${MAX_NAME_LENGTH + 1} characters long; the limit is ${MAX_NAME_LENGTH}\n` +
          '  hint: use a shorter name that says what changes, e.g. add_users_email_index',
      );
    });

    it('points a name with an extension at --lang', () => {
      expect(failure(() => checkMigrationName('add_users.sql')).message).to.equal(
        'the migration name "add_users.sql" ends with a file extension; the task adds it\n  hint: use --name add_users --lang sql',
      );
    });

    it('refuses a name that already carries a timestamp prefix', () => {
      expect(failure(() => checkMigrationName('1732500000000_add_users')).message).to.equal(
        'the migration name "1732500000000_add_users" already starts with a timestamp; the task adds one\n  hint: use --name add_users',
      );
    });
  });

  it('suggestName collapses runs of unsafe characters and trims the ends', () => {
    expect(suggestName('  Add  new--table!! ')).to.equal('Add_new--table');
    expect(suggestName('x'.repeat(150))).to.have.length(MAX_NAME_LENGTH);
  });

  describe('timestamp prefix', () => {
    const files = (...names: string[]) => names.map((name) => parseMigrationFileName(name)!);

    it('is the clock when it is past every migration', () => {
      expect(nextPrefix(newestMigration(files('1732500000000_a.ts', '1732500004000_b.sql')), NOW)).to.equal(String(NOW));
      expect(nextPrefix(undefined, NOW)).to.equal(String(NOW));
    });

    it('is one past the newest migration when the clock is behind it or equal to it', () => {
      const newest = newestMigration(files('1732500000000_a.ts', String(NOW + 5_000) + '_from_the_future.ts', '1732500004000_b.sql'));
      expect(nextPrefix(newest, NOW)).to.equal(String(NOW + 5_001));
      expect(nextPrefix(newestMigration(files(`${NOW}_same_ms.ts`)), NOW)).to.equal(String(NOW + 1));
    });

    it('orders 17-digit prefixes as UTC dates and short ones as numbers, like node-pg-migrate', () => {
      expect(parseMigrationFileName('20260101000000005_utc.js')).to.deep.equal({
        file: '20260101000000005_utc.js',
        prefix: '20260101000000005',
        order: NOW + 5,
        name: 'utc',
      });
      expect(nextPrefix(newestMigration(files('0001_first.sql', '20260101000000005_utc.js')), NOW)).to.equal(String(NOW + 6));
      expect(parseMigrationFileName('README.md')).to.equal(undefined);
    });

    it('refuses to go past 13 digits', () => {
      expect(failure(() => nextPrefix(newestMigration(files('9999999999999_last.ts')), NOW)).message).to.equal(
        'cannot choose a 13-digit millisecond timestamp prefix after 9999999999999_last.ts (prefix 9999999999999)\n' +
          '  hint: if 9999999999999_last.ts is not applied anywhere yet, rename it with a 13-digit prefix; otherwise create the file by hand',
      );
    });
  });

  describe('templates', () => {
    it('TypeScript: typed MigrationBuilder up and down, in the style of migrations/', () => {
      expect(renderMigrationTemplate('ts', 'add_new_table')).to.equal(
        `// add_new_table: say in one line what this migration changes, e.g. "Creates the tags table".
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  // pgm.createTable('example', { id: 'id', name: { type: 'text', notNull: true } });
};

export const down = (pgm: MigrationBuilder): void => {
  // pgm.dropTable('example');
};
`,
      );
    });

    it('JavaScript: the same with JSDoc types', () => {
      const text = renderMigrationTemplate('js', 'add_new_table');
      expect(text.match(/@param \{import\('node-pg-migrate'\)\.MigrationBuilder\} pgm/g)).to.have.length(2);
      expect(text).to.include('export const up = (pgm) => {');
      expect(text).to.include('export const down = (pgm) => {');
      expect(text).not.to.include(': void');
    });

    it('SQL: node-pg-migrate\'s "-- Up Migration" and "-- Down Migration" sections, in that order', () => {
      const lines = renderMigrationTemplate('sql', 'add_new_table').split('\n');
      const up = lines.indexOf('-- Up Migration');
      const down = lines.indexOf('-- Down Migration');
      expect(up).to.be.greaterThan(0);
      expect(down).to.be.greaterThan(up);
      // node-pg-migrate finds the sections with this pattern: only the two markers may match it.
      expect(lines.filter((line) => /^\s*--[\s-]*(up|down)\s+migration/i.test(line))).to.deep.equal(['-- Up Migration', '-- Down Migration']);
    });
  });

  describe('the task', () => {
    let project: TestProject;
    beforeEach(() => {
      project = createTestProject();
    });
    afterEach(() => project.remove());

    /** ensureEnv → create, as `gulp migrate:create <argv>` with no .env and no database. */
    async function create(argv: string[], now = NOW): Promise<RecordingLogger> {
      const logger = createRecordingLogger();
      const ctx = createContext({ logger, env: {}, argv: ['migrate:create', ...argv], cwd: project.dir });
      await createEnsureEnvTask(ctx, { startsDatabase: true })();
      await createCreateMigrationTask(ctx, { now: () => now })();
      return logger;
    }
    async function createFailure(argv: string[]): Promise<TaskError> {
      const error = await create(argv).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    /** What migrate:create printed (ensureEnv's own lines left out). */
    const created = (logger: RecordingLogger) => logger.lines.filter((line) => !line.startsWith('debug:') && !line.includes('DB_PASSWORD is not set'));
    const files = () => (existsSync(project.migrationsDir) ? readdirSync(project.migrationsDir).sort() : []);

    it('creates a TypeScript migration named by the clock and prints its path', async () => {
      project.addMigrations('starter');
      const logger = await create(['--name', 'add_new_table']);
      expect(created(logger)).to.deep.equal([`info: Created migrations/${NOW}_add_new_table.ts`]);
      expect(readFileSync(path.join(project.migrationsDir, `${NOW}_add_new_table.ts`), 'utf8')).to.equal(renderMigrationTemplate('ts', 'add_new_table'));
      expect(files().at(-1)).to.equal(`${NOW}_add_new_table.ts`);
    });

    it('writes .js and .sql with --lang', async () => {
      mkdirSync(project.migrationsDir);
      await create(['--name', 'in_js', '--lang', 'js'], NOW);
      await create(['--name', 'in_sql', '--lang', 'sql'], NOW + 10);
      expect(files()).to.deep.equal([`${NOW}_in_js.js`, `${NOW + 10}_in_sql.sql`]);
      expect(readFileSync(path.join(project.migrationsDir, `${NOW + 10}_in_sql.sql`), 'utf8')).to.equal(renderMigrationTemplate('sql', 'in_sql'));
    });

    it('never sorts before an existing migration, even when the clock is behind or two run in one millisecond', async () => {
      project.addMigrations('starter');
      const behind = 1_732_500_002_500; // between the starter's third and fourth migrations
      const logger = await create(['--name', 'late'], behind);
      expect(created(logger)).to.deep.equal([
        'info: The clock (2024-11-25T02:00:02.500Z) is not past the newest migration 1732500004000_create_tags: using prefix 1732500004001 so the new one sorts last',
        'info: Created migrations/1732500004001_late.ts',
      ]);
      await create(['--name', 'same_moment'], behind);
      expect(files().slice(-2)).to.deep.equal(['1732500004001_late.ts', '1732500004002_same_moment.ts']);
    });

    it('refuses a name an existing migration has (any extension, any case) and writes nothing', async () => {
      project.addMigrations('starter');
      const before = files();
      const error = await createFailure(['--name', 'Create_Users', '--lang', 'sql']);
      expect(error.message).to.equal(
        'a migration named create_users already exists: migrations/1732500002000_create_users.ts\n' +
          '  hint: choose another name, one that says what this migration changes; or edit 1732500002000_create_users.ts instead if it has not been applied anywhere yet',
      );
      expect(files()).to.deep.equal(before);
    });

    it('creates a missing migrations folder and says so', async () => {
      const logger = await create(['--name', 'first', '--migrations-dir', 'db/migrations']);
      expect(created(logger)).to.deep.equal([
        'info: Created the migrations folder db/migrations/ (set MIGRATIONS_DIR or --migrations-dir if yours is elsewhere)',
        `info: Created db/migrations/${NOW}_first.ts`,
      ]);
      expect(readdirSync(path.join(project.dir, 'db', 'migrations'))).to.deep.equal([`${NOW}_first.ts`]);
    });

    it('rejects an unsafe name before touching the disk: no file, no folder', async () => {
      const error = await createFailure(['--name', 'x;touch pwned']);
      expect(error.message).to.match(/^the migration name "x;touch pwned" is not safe/);
      expect(existsSync(project.migrationsDir)).to.equal(false);
      expect(readdirSync(project.dir)).to.deep.equal([]);
    });

    it('rejects --name given without a value', async () => {
      const error = await createFailure(['--name']);
      expect(error.message).to.match(/^the migration name is empty\n/);
    });

    it('rejects an unknown --lang through the flag validation', async () => {
      const error = await createFailure(['--name', 'x', '--lang', 'py']);
      expect(error.message).to.match(/^--lang must be one of: ts, js, sql \(got "py"\)/);
    });
  });
});
