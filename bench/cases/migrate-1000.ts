// Case 3: `gulp migrate` up of 1 000 trivial SQL migrations on a running server ÷ `psql -1 -f` of the same SQL.
// Goal ≤ 1.5. Peer rows, in the same rounds on the same migrations: ÷ node-pg-migrate's own CLI
// (`up --single-transaction`) and ÷ dbmate (`migrate`, the same SQL in its format); goal ≤ 0.8 of the faster peer,
// that is ≤ 0.8 in both rows. Each run gets a fresh empty database (created outside the timed part, and dropped after
// it is checked). The CPU time of every side's process (user + sys) is taken too: the shared server's is not in it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { query } from '../../test/support/database';
import { writeTrivialDbmateMigrations, writeTrivialSqlMigrations } from '../fixtures';
import { measureWithPeers, NotAvailable, requireTasks, type BenchCase, type BenchRun, type Side } from '../harness/case';
import { dbmate, nodePgMigrateCli, peerPlan } from '../harness/peers';
import { cleanEnv, expectRun, runGulp, runProcess } from '../harness/processes';
import { finishedMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const MIGRATIONS = 1_000;
/** Migrate 1 000 ≤ 0.8 of the faster peer: the same bound against each. */
const PEER_GOAL = { kind: 'ratio', max: 0.8 } as const;

export const migrate1000Case: BenchCase = {
  id: 'migrate-1000',
  number: 3,
  title: `\`gulp migrate\`, ${MIGRATIONS.toLocaleString('en')} trivial SQL migrations ÷ \`psql -1 -f\``,
  goal: { kind: 'ratio', max: 1.3 },
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

    const candidate: Side = {
      name: 'candidate',
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
        return result;
      },
    };
    const baseline: Side = {
      name: 'baseline',
      label: `\`psql -X -q -1 -v ON_ERROR_STOP=1 -f all.sql\` (psql ${pg.psql.version})`,
      async run() {
        const url = await freshDatabase();
        const result = await runProcess(pg.psql!.path, ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', allSql, url], { cwd: project, env: cleanEnv() });
        expectRun(result, 'psql -1 -f all.sql');
        await checkAndDrop(url, 'psql');
        return result;
      },
    };

    const dbmateFound = await dbmate();
    if ('tool' in dbmateFound) writeTrivialDbmateMigrations(path.join(project, 'dbmate-migrations'), MIGRATIONS);
    const peers = [
      peerPlan(await nodePgMigrateCli(), { title: () => "`gulp migrate` ÷ node-pg-migrate's CLI (`up --single-transaction`)", goal: PEER_GOAL }, (tool) => ({
        name: 'node-pg-migrate CLI',
        label: `\`node node_modules/node-pg-migrate/bin/node-pg-migrate.js up --single-transaction -m migrations\` (DATABASE_URL; node-pg-migrate ${tool.version}, the runner \`gulp migrate\` is built on)`,
        async run() {
          const url = await freshDatabase();
          const result = expectRun(
            await runProcess(process.execPath, [tool.path, 'up', '--single-transaction', '-m', 'migrations'], {
              cwd: project,
              env: cleanEnv({ DATABASE_URL: url }),
            }),
            'node-pg-migrate up',
            { output: [/Migrations complete/] },
          );
          await checkAndDrop(url, 'node-pg-migrate up');
          return result;
        },
      })),
      peerPlan(dbmateFound, { title: (tool) => `\`gulp migrate\` ÷ dbmate${tool ? ` ${tool.version}` : ''} (\`migrate\`)`, goal: PEER_GOAL }, (tool) => ({
        name: 'dbmate',
        label: `\`dbmate --url … --migrations-dir dbmate-migrations --no-dump-schema migrate\` (dbmate ${tool.version} from @dbmate/linux-x64; the same SQL in its format; one transaction per migration, its default; sslmode=disable)`,
        async run() {
          const url = await freshDatabase();
          const dbmateUrl = new URL(url);
          dbmateUrl.searchParams.set('sslmode', 'disable');
          const result = expectRun(
            await runProcess(tool.path, ['--url', dbmateUrl.href, '--migrations-dir', 'dbmate-migrations', '--no-dump-schema', 'migrate'], {
              cwd: project,
              env: cleanEnv(),
            }),
            'dbmate migrate',
          );
          await checkAndDrop(url, 'dbmate migrate');
          return result;
        },
      })),
    ];
    const measurement = await measureWithPeers(bench, { candidate, baseline, peers });
    measurement.notes = {};
    if (seriesTimes.length > 0)
      measurement.notes["candidate series alone (gulp's \"Finished 'migrate'\": ensureEnv, waitDb, lint pre-flight, runner)"] = median(seriesTimes);
    if (runnerTimes.length > 0) measurement.notes['candidate runner alone ("Applied … in")'] = median(runnerTimes);
    return measurement;
  },
};
