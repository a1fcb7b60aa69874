// Case 8: a database per parallel test worker. `gulp db:run --clones 8 --run true` (one server, the 50 generated
// TypeScript migrations of case 1 applied once, eight CREATE DATABASE … TEMPLATE copies) ÷ eight separate
// `gulp migrate:local` runs on the same migrations (a server and a migration run per worker). Goal ≤ 0.2. The peak
// number of connections to the server during db:run is sampled in one extra, untimed run.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { withClient } from '../../tasks/db/pg-client';
import { buildUrl } from '../../tasks/settings/settings';
import { writeSchemaMigrations } from '../fixtures';
import { measurePairs, requireTasks, type BenchCase, type BenchRun } from '../harness/case';
import { expectRun, runGulp, startGulp } from '../harness/processes';
import { median } from '../harness/stats';

const MIGRATIONS = 50;
const CLONES = 8;
const DB_NAME = 'contenthub';
const DB_USER = 'contentuser';

export const dbRunCase: BenchCase = {
  id: 'db-run-clones',
  number: 8,
  title: `\`gulp db:run --clones ${CLONES}\`, ${MIGRATIONS} TS migrations ÷ ${CLONES} × \`gulp migrate:local\``,
  goal: { kind: 'ratio', max: 0.2 },
  async run(bench: BenchRun) {
    await requireTasks(bench, ['db:run', 'migrate:local']);
    await bench.postgres();
    const project = bench.tempDir('db-run');
    writeSchemaMigrations(path.join(project, 'migrations'), MIGRATIONS);
    const password = randomBytes(12).toString('hex');
    writeFileSync(path.join(project, '.env'), `DB_NAME=${DB_NAME}\nDB_USER=${DB_USER}\nDB_PASSWORD=${password}\n`);
    const args = ['db:run', '--provider', 'embedded', '--clones', String(CLONES), '--run', 'true'];
    const expected = [new RegExp(`Applied ${MIGRATIONS} migrations in`), new RegExp(`Made ${CLONES} copies of ${DB_NAME} .* in (\\d+) ms`)];
    const cloneMs: number[] = [];

    const measurement = await measurePairs(
      bench,
      {
        label: `\`gulp ${args.join(' ')}\` (.env with DB_NAME, DB_USER, DB_PASSWORD)`,
        async run({ warmUp }) {
          const result = expectRun(await runGulp(args, { cwd: project }), '`gulp db:run`', { output: expected });
          if (!warmUp) cloneMs.push(Number(expected[1]!.exec(result.output)![1]));
          return result.ms;
        },
      },
      {
        label: `${CLONES} × \`gulp migrate:local --provider embedded\` in a row (a server and a migration run per worker)`,
        async run() {
          let total = 0;
          for (let worker = 0; worker < CLONES; worker += 1) {
            const result = expectRun(await runGulp(['migrate:local', '--provider', 'embedded'], { cwd: project }), '`gulp migrate:local`', {
              output: [new RegExp(`Applied ${MIGRATIONS} migrations in`)],
            });
            total += result.ms;
          }
          return total;
        },
      },
    );
    const peak = await peakConnections(project, args, password);
    measurement.notes = {
      'candidate copies (the "Made 8 copies … in" figure), median': median(cloneMs),
      'peak sessions on the server during one db:run (clients and autovacuum workers, sampler excluded)': String(peak.peak),
      'sessions while the --run command ran (sampler excluded)': String(peak.duringCommand),
    };
    return measurement;
  },
};

/**
 * One untimed db:run with a sampler: once the server's port is printed, a session as the application role on the
 * `postgres` database (never on the migrated one, which CREATE DATABASE … TEMPLATE needs idle) counts the client
 * backends every few milliseconds. The --run command waits a little so its own moment is sampled too.
 */
async function peakConnections(project: string, args: readonly string[], password: string): Promise<{ peak: number; duringCommand: number }> {
  const runArgs = [...args.slice(0, -1), 'sleep 0.3'];
  const gulp = startGulp(runArgs, { cwd: project });
  let peak = 0;
  let duringCommand = 0;
  let commandRunning = false;
  let sampling = true;
  let sampler: Promise<void> | undefined;
  gulp.onLine((line) => {
    const port = /Started PostgreSQL .* on 127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    if (port && !sampler) {
      const url = buildUrl({ host: '127.0.0.1', port: Number(port), database: 'postgres', user: DB_USER, password });
      sampler = withClient(url, async (client) => {
        while (sampling) {
          const { rows } = await client.query<{ n: string }>( // Another role's rows show no backend_type to the application role, but their database: sessions on a
            // database are the clients (and autovacuum workers); the server's own processes have none.
            'SELECT count(*) - 1 AS n FROM pg_stat_activity WHERE datname IS NOT NULL',
          );
          const count = Number(rows[0]!.n);
          peak = Math.max(peak, count);
          if (commandRunning) duringCommand = Math.max(duringCommand, count);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }).catch(() => undefined);
    }
    if (/Running `sleep 0\.3`/.test(line)) commandRunning = true;
    if (/`sleep 0\.3` passed/.test(line)) sampling = false;
  });
  expectRun(await gulp.done, '`gulp db:run` (sampled)');
  sampling = false;
  await sampler;
  return { peak, duringCommand };
}
