// Case 3: `gulp migrate` up of 1 000 trivial SQL migrations on a running server ÷ `psql -1 -f` of the same SQL.
// Goal ≤ 1.5. Each run gets a fresh empty database (created outside the timed part) and is checked afterwards.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { query } from '../../test/support/database';
import { writeTrivialSqlMigrations } from '../fixtures';
import { measurePairs, NotAvailable, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { cleanEnv, expectRun, runGulp, runProcess } from '../harness/processes';
import { finishedMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const MIGRATIONS = 1_000;

export const migrate1000Case: BenchCase = {
  id: 'migrate-1000',
  number: 3,
  title: `\`gulp migrate\`, ${MIGRATIONS.toLocaleString('en')} trivial SQL migrations ÷ \`psql -1 -f\``,
  goal: { kind: 'ratio', max: 1.5 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['migrate']);
    const pg = await bench.postgres();
    if (!pg.psql) throw new NotAvailable('no psql for the baseline (install the PostgreSQL client)');
    const server = await bench.server();
    const project = bench.tempDir('migrate-1000');
    const allSql = path.join(project, 'all.sql');
    writeFileSync(allSql, writeTrivialSqlMigrations(path.join(project, 'migrations'), MIGRATIONS));

    let databases = 0;
    /** A fresh empty database owned by the application role. */
    const freshDatabase = () => server.freshDatabase(`bench_migrate_${(databases += 1)}`);
    /** Checks the run created every table, then drops its database (outside the timed part, as the creation). */
    const checkAndDrop = async (url: string, what: string) => {
      const [row] = await query<{ count: string }>(url, "SELECT count(*) AS count FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'trivial\\_%'");
      if (Number(row?.count) !== MIGRATIONS) throw new Error(`${what} left ${row?.count} trivial tables, expected ${MIGRATIONS}`);
      await query(server.database.superuserUrl!, `DROP DATABASE "${new URL(url).pathname.slice(1)}"`);
    };
    const runnerTimes: number[] = [];
    const seriesTimes: number[] = [];

    const measurement = await measurePairs(
      bench,
      {
        label: '`gulp migrate` (DATABASE_URL, lint pre-flight on, one transaction)',
        async run({ warmUp }) {
          const url = await freshDatabase();
          const result = expectRun(await runGulp(['migrate'], { cwd: project, env: { DATABASE_URL: url } }), '`gulp migrate`', {
            output: [new RegExp(`Applied ${MIGRATIONS} migrations in`)],
          });
          await checkAndDrop(url, '`gulp migrate`');
          const runner = /Applied \d+ migrations in (\d+) ms/.exec(result.output)?.[1];
          const series = finishedMs(result.output, 'migrate');
          if (!warmUp && runner) runnerTimes.push(Number(runner));
          if (!warmUp && series !== undefined) seriesTimes.push(series);
          return result.ms;
        },
      },
      {
        label: `\`psql -X -q -1 -v ON_ERROR_STOP=1 -f all.sql\` (psql ${pg.psql.version})`,
        async run() {
          const url = await freshDatabase();
          const result = await runProcess(pg.psql!.path, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', allSql, url], { cwd: project, env: cleanEnv() });
          expectRun(result, 'psql -1 -f all.sql');
          await checkAndDrop(url, 'psql');
          return result.ms;
        },
      },
    );
    measurement.notes = {};
    if (seriesTimes.length > 0)
      measurement.notes["candidate series alone (gulp's \"Finished 'migrate'\": ensureEnv, waitDb, lint pre-flight, runner)"] = median(seriesTimes);
    if (runnerTimes.length > 0) measurement.notes['candidate runner alone ("Applied … in")'] = median(runnerTimes);
    return measurement;
  },
};
