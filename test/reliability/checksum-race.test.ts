// The checksum migrate:status compares is the one of the text that ran: a file saved while its migration runs (an
// editor, a `git pull` or a branch switch during a long migration) must show as edited, not hide the drift for good.
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { query, startTestServer, type TestServer } from '../support/database';
import { createTestProject, runGulp, startGulp, type TestProject } from '../support/project';

const NAME = '1000000000001_widgets';
const migration = (columns: string) =>
  [
    "import type { MigrationBuilder } from 'node-pg-migrate';",
    'export const up = (pgm: MigrationBuilder): void => {',
    `  pgm.createTable('widgets', { id: 'id'${columns} });`,
    "  pgm.sql('SELECT pg_sleep(2)');",
    '};',
    "export const down = (pgm: MigrationBuilder): void => pgm.dropTable('widgets');",
    '',
  ].join('\n');

describe('checksums of what ran', function () {
  this.timeout(60_000);
  let server: TestServer;
  let project: TestProject;
  before(async () => {
    server = await startTestServer();
    project = createTestProject();
    mkdirSync(project.migrationsDir, { recursive: true });
  });
  after(async () => {
    project?.remove();
    await server?.stop();
  });

  it('a migration file saved while it runs: recorded with the text that ran, so migrate:status says edited (exit 4)', async () => {
    const url = await server.freshDatabase('checksum_race');
    const file = path.join(project.migrationsDir, `${NAME}.ts`);
    writeFileSync(file, migration(''));
    const gulp = startGulp(['migrate', '--no-lint'], { cwd: project.dir, env: { DATABASE_URL: url } });
    // Saved again while the migration sleeps on the server.
    const running = async () =>
      (
        await query<{ n: string }>(
          server.database.superuserUrl!,
          "SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()",
        )
      )[0]!.n !== '0';
    for (let waited = 0; !(await running()); waited += 50) {
      if (waited > 30_000) throw new Error(`the migration never ran:\n${gulp.output()}`);
      await sleep(50);
    }
    writeFileSync(file, migration(", name: { type: 'text', notNull: true }"));
    const run = await gulp.done;
    expect(run.code, run.output).to.equal(0);
    expect(
      (await query<{ column_name: string }>(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'widgets'")).map(
        (row) => row.column_name,
      ),
    ).to.deep.equal(['id']);

    const status = await runGulp(['migrate:status'], { cwd: project.dir, env: { DATABASE_URL: url } });
    expect(status.code, status.output).to.equal(4);
    expect(status.output).to.match(new RegExp(`edited +${NAME}`));
  });
});
