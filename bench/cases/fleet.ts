// Case 7: a fleet. `gulp migrate --targets targets.json --concurrency 4` over 200 databases of one local server, 20
// trivial SQL migrations each ÷ a shell loop of node-pg-migrate's own CLI (`node-pg-migrate up`) over the same
// databases, one after the other, as a team would script it. Goal ≤ 0.3. Each run starts from empty databases (their
// public schema recreated outside the timed part); peak connections to the fleet's databases are sampled meanwhile.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { withClient } from '../../tasks/db/pg-client';
import { query } from '../../test/support/database';
import { writeTrivialSqlMigrations } from '../fixtures';
import { measurePairs, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { cleanEnv, expectRun, REPO_ROOT, runGulp, runProcess } from '../harness/processes';

const DATABASES = 200;
const MIGRATIONS = 20;
const CONCURRENCY = 4;
const PREFIX = 'bench_fleet_';

export const fleetCase: BenchCase = {
  id: 'fleet',
  number: 7,
  title: `\`gulp migrate --targets\`, ${DATABASES} databases × ${MIGRATIONS} migrations, --concurrency ${CONCURRENCY} ÷ a shell loop of node-pg-migrate's CLI`,
  goal: { kind: 'ratio', max: 0.3 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['migrate']);
    const server = await bench.server();
    const project = bench.tempDir('fleet');
    writeTrivialSqlMigrations(path.join(project, 'migrations'), MIGRATIONS);
    bench.log(`creating ${DATABASES} databases`);
    const urls: string[] = [];
    for (let index = 1; index <= DATABASES; index += 1) urls.push(await server.freshDatabase(`${PREFIX}${index}`));
    bench.onCleanup('fleet databases', async () => {
      await withClient(server.database.superuserUrl!, async (client) => {
        for (let index = 1; index <= DATABASES; index += 1) await client.query(`DROP DATABASE IF EXISTS ${PREFIX}${index}`);
      });
    });
    writeFileSync(path.join(project, 'targets.json'), JSON.stringify(urls.map((url, index) => ({ name: `tenant_${index + 1}`, url }))));
    writeFileSync(path.join(project, 'urls.txt'), `${urls.join('\n')}\n`);
    const cli = path.join(REPO_ROOT, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');
    const loop = `while read -r url; do DATABASE_URL="$url" "${process.execPath}" "${cli}" up -m migrations >/dev/null || exit 1; done < urls.txt`;

    /** Empty databases again (outside the timed part): 20 tables and the ledger dropped with the public schema. */
    const reset = async () => {
      for (const url of urls) await query(url, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    };
    const check = async (what: string) => {
      for (const url of [urls[0]!, urls.at(-1)!]) {
        const [row] = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM pgmigrations');
        if (Number(row?.n) !== MIGRATIONS) throw new Error(`${what} recorded ${row?.n} migrations in ${new URL(url).pathname}, expected ${MIGRATIONS}`);
      }
    };
    /** Samples the connections to the fleet's databases while `work` runs. */
    const peakDuring = async <T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> => {
      let peak = 0;
      let sampling = true;
      const sampler = withClient(server.database.superuserUrl!, async (client) => {
        while (sampling) {
          const { rows } = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity WHERE datname LIKE '${PREFIX}%' AND backend_type = 'client backend'`,
          );
          peak = Math.max(peak, Number(rows[0]!.n));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      });
      try {
        return { result: await work(), peak };
      } finally {
        sampling = false;
        await sampler;
      }
    };
    const peaks = { candidate: 0, baseline: 0 };

    const measurement = await measurePairs(
      bench,
      {
        label: `\`gulp migrate --targets targets.json --concurrency ${CONCURRENCY}\``,
        async run() {
          await reset();
          const { result, peak } = await peakDuring(async () =>
            expectRun(
              await runGulp(['migrate', '--targets', 'targets.json', '--concurrency', String(CONCURRENCY)], { cwd: project, timeoutMs: 15 * 60_000 }),
              'gulp migrate --targets',
              {
                output: [new RegExp(`migrated +${DATABASES}`)],
              },
            ),
          );
          peaks.candidate = Math.max(peaks.candidate, peak);
          await check('gulp migrate --targets');
          return result.ms;
        },
      },
      {
        label: `a shell loop: \`node-pg-migrate up\` per database, ${DATABASES} in a row`,
        async run() {
          await reset();
          const { result, peak } = await peakDuring(async () =>
            expectRun(await runProcess('bash', ['-c', loop], { cwd: project, env: cleanEnv(), timeoutMs: 15 * 60_000 }), 'the node-pg-migrate loop'),
          );
          peaks.baseline = Math.max(peaks.baseline, peak);
          await check('node-pg-migrate');
          return result.ms;
        },
      },
    );
    measurement.notes = {
      'peak connections to the fleet, candidate': `${peaks.candidate} (--concurrency ${CONCURRENCY})`,
      'peak connections to the fleet, baseline': String(peaks.baseline),
    };
    return measurement;
  },
};
