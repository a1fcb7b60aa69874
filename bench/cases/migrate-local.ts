// Case 1: `gulp migrate:local` end to end (embedded provider, 50 generated TypeScript migrations) ÷ the same steps by
// hand in a shell script with the same binaries (bench/baseline/migrate-local.sh). Goal ≤ 0.7.
// Peer rows, in the same rounds: the candidate's migrate step (gulp's "Finished 'migrate'": lint pre-flight, connect,
// load, run, ledger; inside the running gulp process) ÷ each peer applying the same migrations to an empty database of
// the bench's shared server (the embedded provider's binaries and settings, as migrate:local's own server), as a whole
// process: node-pg-migrate's CLI on the same TypeScript files, dbmate on the same migrations rendered to SQL
// (fixtures.schemaSql). The issue sets no goal for them: reported only.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { query } from '../../test/support/database';
import { writeSchemaDbmateMigrations, writeSchemaMigrations } from '../fixtures';
import { measureWithPeers, NotAvailable, requireTasks, type BenchCase, type BenchRun, type SideTimings } from '../harness/case';
import { dbmate, nodePgMigrateCli, peerPlan } from '../harness/peers';
import { cleanEnv, expectRun, REPO_ROOT, runGulp, runProcess } from '../harness/processes';
import { finishedMs, toMs } from '../harness/gulp-output';
import { median } from '../harness/stats';

const MIGRATIONS = 50;
const BASELINE_SCRIPT = path.join(REPO_ROOT, 'bench', 'baseline', 'migrate-local.sh');
/** The guide's names; the password is URL-safe so the script can put it in DATABASE_URL as is. */
const DB_NAME = 'contenthub';
const DB_USER = 'contentuser';
/** Phases the candidate prints with their duration ("… in 537 ms", "Finished 'migrate' after 1.08 s"). */
const PHASES: [string, RegExp][] = [
  ['server start (startDb)', /Finished 'startDb' after ([\d.]+ m?s)/],
  ['migrate task (lint pre-flight + runner)', /Finished 'migrate' after ([\d.]+ m?s)/],
  ['runner alone ("Applied … in")', /Applied \d+ migrations in (\d+ ms)/],
  ['stop + remove', /removed its files in (\d+ ms)/],
  ["whole series (gulp's \"Finished 'migrate:local'\")", /Finished 'migrate:local' after ([\d.]+ m?s)/],
];

export const migrateLocalCase: BenchCase = {
  id: 'migrate-local',
  number: 1,
  title: `\`gulp migrate:local\`, ${MIGRATIONS} TS migrations ÷ shell script`,
  goal: { kind: 'ratio', max: 0.5 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['migrate:local']);
    const pg = await bench.postgres();
    if (!pg.pgCtl) throw new NotAvailable(`no pg_ctl beside ${pg.server.binDir} for the shell baseline`);
    if (!pg.psql) throw new NotAvailable('no psql for the shell baseline (install the PostgreSQL client)');

    const project = bench.tempDir('migrate-local');
    writeSchemaMigrations(path.join(project, 'migrations'), MIGRATIONS);
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(project, '.env'), `DB_NAME=${DB_NAME}\nDB_USER=${DB_USER}\nDB_PASSWORD=${password}\n`);
    const phases = new Map<string, number[]>(PHASES.map(([name]) => [`candidate ${name}`, []]));
    const note = (name: string, ms: number) => phases.set(name, [...(phases.get(name) ?? []), ms]);
    /** The candidate's migrate step per run, for the peer rows (warm-up first). */
    const migrateStep: SideTimings = {
      label: "`gulp migrate:local`'s migrate step (gulp's \"Finished 'migrate'\": lint pre-flight, runner)",
      warmUp: [],
      samples: [],
    };

    const peers = await peerPlans(bench, project);
    const measurement = await measureWithPeers(bench, {
      peers,
      peerCandidate: () => migrateStep,
      candidate: {
        label: '`gulp migrate:local --provider embedded` (.env with DB_NAME, DB_USER, DB_PASSWORD)',
        async run({ warmUp }) {
          const result = expectRun(await runGulp(['migrate:local', '--provider', 'embedded'], { cwd: project }), '`gulp migrate:local`', {
            output: [new RegExp(`Applied ${MIGRATIONS} migrations in`), /Stopped the embedded database and removed its files/, /Finished 'migrate' after/],
          });
          migrateStep[warmUp ? 'warmUp' : 'samples'].push(finishedMs(result.output, 'migrate')!);
          if (!warmUp) {
            for (const [name, pattern] of PHASES) {
              const match = pattern.exec(result.output)?.[1];
              if (match) note(`candidate ${name}`, toMs(match));
            }
          }
          return result.ms;
        },
      },
      baseline: {
        label: `\`bench/baseline/migrate-local.sh\` (initdb, pg_ctl -w start, psql role + database, node-pg-migrate up, pg_ctl stop -m fast, rm -rf; ${pg.server.binDir}, psql ${pg.psql.version})`,
        async run({ warmUp }) {
          const env = cleanEnv({
            PG_BIN: pg.server.binDir,
            PSQL: pg.psql!.path,
            PGMIGRATE: path.join(REPO_ROOT, 'node_modules', '.bin', 'node-pg-migrate'),
            DB_NAME,
            DB_USER,
            DB_PASSWORD: password,
            ...(pg.serverUser ? { SERVER_USER: pg.serverUser } : {}),
          });
          const result = expectRun(await runProcess('bash', [BASELINE_SCRIPT], { cwd: project, env }), 'bench/baseline/migrate-local.sh');
          // The script prints "step NAME N ms" after each step.
          if (!warmUp) for (const [, name, ms] of result.output.matchAll(/^step (\S+) (\d+) ms$/gm)) note(`baseline ${name}`, Number(ms));
          return result.ms;
        },
      },
    });
    measurement.notes = {};
    for (const [name, values] of phases) if (values.length > 0) measurement.notes[name] = median(values);
    return measurement;
  },
};

/** node-pg-migrate's CLI and dbmate, each applying the case's migrations to a fresh empty database of the shared server. */
async function peerPlans(bench: BenchRun, project: string) {
  const npmCli = await nodePgMigrateCli();
  const dbmateFound = await dbmate();
  if ('tool' in dbmateFound) writeSchemaDbmateMigrations(path.join(project, 'dbmate-migrations'), MIGRATIONS);
  let databases = 0;
  /** Runs `command` against a fresh database, checks every table is there, drops the database (untimed). */
  const onFreshDatabase = async (what: string, command: (url: string) => Promise<{ ms: number; cpuMs?: number }>) => {
    const server = await bench.server();
    const url = await server.freshDatabase(`bench_local_peer_${(databases += 1)}`);
    const result = await command(url);
    const [row] = await query<{ count: string }>(url, "SELECT count(*) AS count FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+_[0-9]+$'");
    const expected = Array.from({ length: MIGRATIONS }, (_, index) => 2 + (index % 2)).reduce((sum, count) => sum + count, 0);
    if (Number(row?.count) !== expected) throw new Error(`${what} left ${row?.count} tables, expected ${expected}`);
    await query(server.database.superuserUrl!, `DROP DATABASE "${new URL(url).pathname.slice(1)}"`);
    return result;
  };
  return [
    peerPlan(npmCli, NPM_ROW, (tool) => ({
      name: 'node-pg-migrate CLI',
      label: `\`node-pg-migrate up --single-transaction -m migrations\` (node-pg-migrate ${tool.version}; the same ${MIGRATIONS} TypeScript files, loaded by its jiti) on an empty database of the shared server, the whole process`,
      run: () =>
        onFreshDatabase('node-pg-migrate up', async (url) =>
          expectRun(
            await runProcess(process.execPath, [tool.path, 'up', '--single-transaction', '-m', 'migrations'], {
              cwd: project,
              env: cleanEnv({ DATABASE_URL: url }),
            }),
            'node-pg-migrate up',
            { output: [/Migrations complete/] },
          ),
        ),
    })),
    peerPlan(dbmateFound, DBMATE_ROW, (tool) => ({
      name: 'dbmate',
      label: `\`dbmate --url … --migrations-dir dbmate-migrations --no-dump-schema migrate\` (dbmate ${tool.version}; the ${MIGRATIONS} migrations rendered to SQL, fixtures.schemaSql; one transaction per migration) on an empty database of the shared server, the whole process`,
      run: () =>
        onFreshDatabase('dbmate migrate', async (url) => {
          const dbmateUrl = new URL(url);
          dbmateUrl.searchParams.set('sslmode', 'disable');
          return expectRun(
            await runProcess(tool.path, ['--url', dbmateUrl.href, '--migrations-dir', 'dbmate-migrations', '--no-dump-schema', 'migrate'], {
              cwd: project,
              env: cleanEnv(),
            }),
            'dbmate migrate',
          );
        }),
    })),
  ];
}

const NPM_ROW = { title: () => "migrate step ÷ node-pg-migrate's CLI (`up --single-transaction`), same TS migrations, empty database" };
const DBMATE_ROW = { title: () => 'migrate step ÷ dbmate (`migrate`), the migrations as SQL, empty database' };
