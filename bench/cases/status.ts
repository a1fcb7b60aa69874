// Case 6: `gulp migrate:status` with 10 000 applied migrations (a gulp process, as a user runs it). Goal: median ≤ 1 s.
// Baseline: the same ledger read with psql. The ledger and checksum rows are written with SQL (nothing is migrated). A
// note gives the series alone (gulp's "Finished" line), to separate it from process start-up.
import path from 'node:path';
import { hashMigrationContent, upsertChecksums } from '../../tasks/db/checksums';
import { withClient } from '../../tasks/db/pg-client';
import { STATUS_MIGRATION_CONTENT, writeStatusMigrations } from '../fixtures';
import { measurePairs, NotAvailable, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { cleanEnv, expectRun, runGulp, runProcess } from '../harness/processes';
import { median } from '../harness/stats';
import { finishedMs } from '../harness/gulp-output';

const MIGRATIONS = 10_000;
const LEDGER_QUERY = 'SELECT name, run_on FROM pgmigrations ORDER BY run_on, id';

export const statusCase: BenchCase = {
  id: 'status',
  number: 6,
  title: `\`gulp migrate:status\`, ${MIGRATIONS.toLocaleString('en')} applied ÷ psql ledger read`,
  goal: { kind: 'ms', max: 400 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['migrate:status']);
    const pg = await bench.postgres();
    if (!pg.psql) throw new NotAvailable('no psql for the baseline (install the PostgreSQL client)');
    const server = await bench.server();
    const project = bench.tempDir('status');
    const migrationsDir = path.join(project, 'migrations');
    const names = writeStatusMigrations(migrationsDir, MIGRATIONS);
    const url = await server.freshDatabase('bench_status');
    await fillLedger(url, names);

    const series: number[] = [];
    const measurement = await measurePairs(
      bench,
      {
        label: '`gulp migrate:status` (DATABASE_URL; every migration applied, with its checksum)',
        async run({ warmUp }) {
          const result = expectRun(await runGulp(['migrate:status'], { cwd: project, env: { DATABASE_URL: url } }), '`gulp migrate:status`', {
            output: [new RegExp(`^(\\[[\\d:]+\\] )?${MIGRATIONS} applied$`, 'm')],
          });
          const ms = finishedMs(result.output, 'migrate:status');
          if (!warmUp && ms !== undefined) series.push(ms);
          return result.ms;
        },
      },
      {
        label: `\`psql -X -A -t -c "${LEDGER_QUERY}"\` (psql ${pg.psql.version})`,
        async run() {
          const result = expectRun(
            await runProcess(pg.psql!.path, ['-X', '-A', '-t', '-c', LEDGER_QUERY, url], { cwd: project, env: cleanEnv() }),
            'psql ledger read',
          );
          const rows = result.output.split('\n').filter(Boolean).length;
          if (rows !== MIGRATIONS) throw new Error(`psql read ${rows} ledger rows, expected ${MIGRATIONS}`);
          return result.ms;
        },
      },
    );
    if (series.length > 0) measurement.notes = { "candidate series alone (gulp's \"Finished 'migrate:status'\"), median": median(series) };
    return measurement;
  },
};

/** node-pg-migrate's ledger (its own DDL) and our checksums, as if every migration had been applied through the tasks. */
async function fillLedger(url: string, names: string[]): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('CREATE TABLE "public"."pgmigrations" (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)');
    await client.query(
      "INSERT INTO pgmigrations (name, run_on) SELECT name, now() - (count(*) OVER () - ordinality) * interval '1 second' FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ordinality) ORDER BY ordinality",
      [names],
    );
    await upsertChecksums(
      client,
      { schema: 'public', table: 'pgmigrations' },
      names,
      names.map(() => hashMigrationContent(STATUS_MIGRATION_CONTENT)),
    );
  });
}
