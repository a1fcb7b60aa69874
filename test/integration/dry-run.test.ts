import { expect } from 'chai';
import pg from 'pg';
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { TaskError } from '../../tasks/util/errors';
import { createMigrateTask } from '../../tasks/gulp/steps/migrate';
import { createWaitDbTask } from '../../tasks/gulp/steps/wait-db';
import { query, startTestServer, tableNames, type TestServer } from '../support/database';
import { createTestProject, type TestProject } from '../support/project';
import { createRecordingLogger, type RecordingLogger } from '../support/recording-logger';

/** Everything a migration run could change, as text: compared before and after a dry run. */
const CATALOG_SNAPSHOT = `
  SELECT
    (SELECT json_agg(c ORDER BY c.oid)::text FROM pg_class c) AS pg_class,
    (SELECT json_agg(n ORDER BY n.oid)::text FROM pg_namespace n) AS pg_namespace,
    (SELECT json_agg(t.oid ORDER BY t.oid)::text FROM pg_type t) AS pg_type,
    (SELECT json_agg(p.oid ORDER BY p.oid)::text FROM pg_proc p) AS pg_proc,
    (SELECT json_agg(e ORDER BY e.oid)::text FROM pg_extension e) AS pg_extension,
    (SELECT json_agg(l)::text FROM (
       SELECT locktype, database, relation, classid, objid, objsubid, mode, granted FROM pg_locks
       WHERE pid <> pg_backend_pid() ORDER BY 1, 2, 3, 4, 5, 6, 7) l) AS pg_locks,
    to_regclass('public.pgmigrations') IS NULL AS no_ledger_table`;

describe('migrate --dry-run against a real server', function () {
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
    project = createTestProject();
    project.addMigrations('starter');
  });
  after(async () => {
    await server?.stop();
    project?.remove();
  });

  /** Runs ensureEnv → waitDb → migrate as `gulp migrate <argv>` would, against `url`. */
  async function migrate(url: string, argv: string[] = [], from: TestProject = project): Promise<RecordingLogger> {
    const logger = createRecordingLogger();
    const ctx = createContext({ logger, env: { DATABASE_URL: url }, argv: ['migrate', ...argv], cwd: from.dir });
    await createEnsureEnvTask(ctx)();
    await createWaitDbTask(ctx)();
    await createMigrateTask(ctx)();
    return logger;
  }
  async function dryRunFailure(url: string, argv: string[], from: TestProject): Promise<TaskError> {
    try {
      await migrate(url, ['--dry-run', ...argv], from);
    } catch (error) {
      expect(error).to.be.instanceOf(TaskError);
      return error as TaskError;
    }
    throw new Error('expected the dry run to fail');
  }
  /** What the dry run printed after waitDb's "Database ready" line. */
  const printed = (logger: RecordingLogger) =>
    logger.lines
      .filter((line) => line.startsWith('info:'))
      .slice(1)
      .map((line) => line.slice('info: '.length));
  const ledger = async (url: string) => (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);

  /**
   * Records every query the task's own pg clients send while `work` runs, and, when the dry run reads the ledger,
   * the advisory locks held at that moment (by anyone) and whether its session was the live one looked at.
   */
  async function watchQueries(work: () => Promise<void>): Promise<{ sent: string[]; advisoryLocksDuring?: unknown[]; sessionSeen?: boolean }> {
    const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; processID?: number };
    const original = prototype.query;
    const seen: { sent: string[]; advisoryLocksDuring?: unknown[]; sessionSeen?: boolean } = { sent: [] };
    let inside = false;
    prototype.query = function (this: { processID?: number }, ...args: unknown[]) {
      if (inside) return original.apply(this, args);
      const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string })?.text);
      seen.sent.push(text);
      if (!text.includes('to_regclass')) return original.apply(this, args);
      inside = true;
      const pid = this.processID;
      return (async () => {
        try {
          seen.advisoryLocksDuring = await query(server.database.superuserUrl!, "SELECT pid, objid FROM pg_locks WHERE locktype = 'advisory'");
          const [session] = await query<{ live: boolean }>(
            server.database.superuserUrl!,
            `SELECT count(*) = 1 AS live FROM pg_stat_activity WHERE pid = ${Number(pid)} AND xact_start IS NOT NULL`,
          );
          seen.sessionSeen = session!.live;
        } finally {
          inside = false;
        }
        return original.apply(this, args);
      })();
    };
    try {
      await work();
    } finally {
      prototype.query = original;
    }
    return seen;
  }

  describe('on an empty database', () => {
    let url: string;
    let logger: RecordingLogger;
    let catalogBefore: Record<string, unknown>;
    let catalogAfter: Record<string, unknown>;
    let watched: Awaited<ReturnType<typeof watchQueries>>;
    before(async () => {
      url = await server.freshDatabase('dry_empty');
      [catalogBefore] = await query(url, CATALOG_SNAPSHOT);
      watched = await watchQueries(async () => {
        logger = await migrate(url, ['--dry-run']);
      });
      [catalogAfter] = await query(url, CATALOG_SNAPSHOT);
    });

    it("prints each starter migration's SQL in one transaction, then the summary", () => {
      const lines = printed(logger);
      expect(lines.slice(0, 4)).to.deep.equal([
        '-- the ledger table "public"."pgmigrations" does not exist yet: node-pg-migrate creates it before the run',
        'CREATE TABLE "public"."pgmigrations" (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);',
        'BEGIN;',
        '-- ↑ 1732500000000_enable_pgcrypto (migrations/1732500000000_enable_pgcrypto.ts)',
      ]);
      expect(lines.filter((line) => line.startsWith('-- ↑'))).to.deep.equal([
        '-- ↑ 1732500000000_enable_pgcrypto (migrations/1732500000000_enable_pgcrypto.ts)',
        '-- ↑ 1732500001000_create_set_updated_at_function (migrations/1732500001000_create_set_updated_at_function.ts)',
        '-- ↑ 1732500002000_create_users (migrations/1732500002000_create_users.ts)',
        '-- ↑ 1732500003000_create_content (migrations/1732500003000_create_content.ts)',
        '-- ↑ 1732500004000_create_tags (migrations/1732500004000_create_tags.ts)',
      ]);
      expect(lines).to.include('CREATE EXTENSION IF NOT EXISTS "pgcrypto";');
      expect(lines).to.include('CREATE TRIGGER "users_set_updated_at"\n  BEFORE UPDATE ON "users"\n  FOR EACH ROW\n  EXECUTE PROCEDURE "set_updated_at"();');
      const users = lines.indexOf('-- ↑ 1732500002000_create_users (migrations/1732500002000_create_users.ts)');
      expect(lines[users + 1]).to.match(/^CREATE TABLE "users" \(\n {2}"id" uuid DEFAULT gen_random_uuid\(\) PRIMARY KEY,\n/);
      expect(lines[users + 3]).to.equal(`INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('1732500002000_create_users', NOW());`);
      expect(lines.slice(-2)).to.deep.equal(['COMMIT;', 'Dry run: 5 migrations would be applied; nothing was changed']);
      expect(logger.lines.filter((line) => /^(warn|error):/.test(line))).to.deep.equal([]);
    });

    it('leaves the catalog exactly as before: no ledger table, no new relation, no lock left', () => {
      expect(catalogBefore.no_ledger_table).to.equal(true);
      expect(catalogAfter).to.deep.equal(catalogBefore);
    });

    it('only reads the ledger, in a read-only transaction, holding no advisory lock while it does', () => {
      expect(watched.sessionSeen, "the dry run's own session was live when the locks were read").to.equal(true);
      expect(watched.advisoryLocksDuring).to.deep.equal([]);
      // The whole of `gulp migrate --dry-run`: waitDb's probe, then one read-only look at the ledger.
      expect(watched.sent).to.deep.equal(['SELECT 1', 'BEGIN TRANSACTION READ ONLY', 'SELECT to_regclass($1) IS NOT NULL AS exists', 'COMMIT']);
    });
  });

  describe('after the starter schema was applied', () => {
    let url: string;
    before(async () => {
      url = await server.freshDatabase('dry_applied');
      await migrate(url);
    });

    it('prints the down SQL of the last two migrations for --direction down --count 2, latest first, and rolls nothing back', async () => {
      const tables = await tableNames(url);
      const logger = await migrate(url, ['--dry-run', '--direction', 'down', '--count', '2']);
      expect(printed(logger)).to.deep.equal([
        'BEGIN;',
        '-- ↓ 1732500004000_create_tags (migrations/1732500004000_create_tags.ts)',
        'DROP INDEX "content_tags_tag_id_index";',
        'DROP TABLE "content_tags";',
        'DROP TABLE "tags";',
        `DELETE FROM "public"."pgmigrations" WHERE name='1732500004000_create_tags';`,
        '-- ↓ 1732500003000_create_content (migrations/1732500003000_create_content.ts)',
        'DROP TRIGGER "content_set_updated_at" ON "content";',
        'DROP INDEX "content_visibility_published_at_index";',
        'DROP INDEX "content_user_id_index";',
        'DROP TABLE "content";',
        'DROP TYPE "visibility";',
        'DROP TYPE "content_type";',
        `DELETE FROM "public"."pgmigrations" WHERE name='1732500003000_create_content';`,
        'COMMIT;',
        'Dry run: 2 migrations would be rolled back; nothing was changed',
      ]);
      expect(await ledger(url)).to.have.length(5);
      expect(await tableNames(url)).to.deep.equal(tables);
    });

    it('says nothing is pending when every migration is applied', async () => {
      const logger = await migrate(url, ['--dry-run']);
      expect(printed(logger)).to.deep.equal(['Dry run: no pending migrations; nothing was changed']);
    });
  });

  describe('migrations that cannot be dry-run', () => {
    let broken: TestProject;
    beforeEach(() => {
      broken = createTestProject();
      broken.addMigrations('starter');
    });
    afterEach(() => broken.remove());

    it('names a migration that queries the database in up, and changes nothing', async () => {
      broken.writeFile(
        'migrations/1732500005000_backfill_display_names.ts',
        `import type { MigrationBuilder } from 'node-pg-migrate';
export const up = async (pgm: MigrationBuilder): Promise<void> => {
  const { rows } = await pgm.db.query('SELECT id FROM users');
  for (const row of rows) pgm.sql(\`UPDATE users SET display_name = 'x' WHERE id = '\${row.id}'\`);
};
export const down = false;
`,
      );
      const url = await server.freshDatabase('dry_queries');
      const error = await dryRunFailure(url, [], broken);
      expect(error.message).to.equal(
        'migration 1732500005000_backfill_display_names queries the database while building its SQL (pgm.db.query): it cannot be dry-run\n' +
          "  hint: apply it to a throw-away database instead (`gulp migrate:local`), or build migrations/1732500005000_backfill_display_names.ts's SQL without pgm.db (e.g. a DO block in pgm.sql)",
      );
      expect(await tableNames(url)).to.deep.equal([]);
    });

    it('names a file with a syntax error, with the loader message', async () => {
      broken.writeFile('migrations/1732500005000_add_bio.ts', `export const up = (pgm) => {\n  pgm.addColumn('users', { bio: 'text' };\n};\n`);
      const url = await server.freshDatabase('dry_syntax');
      const error = await dryRunFailure(url, [], broken);
      expect(error.message).to.match(
        /^could not load migration migrations\/1732500005000_add_bio\.ts: ParseError: Unexpected token, expected "," \S+\/migrations\/1732500005000_add_bio\.ts:2:40\n/,
      );
      expect(error.hint).to.equal('fix migrations/1732500005000_add_bio.ts (a syntax error, or an import that fails or throws), then run the command again');
      expect(await tableNames(url)).to.deep.equal([]);
    });
  });
});
