// Case 1: `gulp migrate:local` end to end (embedded provider, 50 generated TypeScript migrations) ÷ the same steps by
// hand in a shell script with the same binaries (bench/baseline/migrate-local.sh). Goal ≤ 0.7.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSchemaMigrations } from '../fixtures';
import { measurePairs, NotAvailable, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { cleanEnv, expectRun, REPO_ROOT, runGulp, runProcess } from '../harness/processes';
import { toMs } from '../harness/gulp-output';
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
  goal: { kind: 'ratio', max: 0.7 },
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

    const measurement = await measurePairs(
      bench,
      {
        label: '`gulp migrate:local --provider embedded` (.env with DB_NAME, DB_USER, DB_PASSWORD)',
        async run({ warmUp }) {
          const result = expectRun(await runGulp(['migrate:local', '--provider', 'embedded'], { cwd: project }), '`gulp migrate:local`', {
            output: [new RegExp(`Applied ${MIGRATIONS} migrations in`), /Stopped the embedded database and removed its files/],
          });
          if (!warmUp) {
            for (const [name, pattern] of PHASES) {
              const match = pattern.exec(result.output)?.[1];
              if (match) note(`candidate ${name}`, toMs(match));
            }
          }
          return result.ms;
        },
      },
      {
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
    );
    measurement.notes = {};
    for (const [name, values] of phases) if (values.length > 0) measurement.notes[name] = median(values);
    return measurement;
  },
};
