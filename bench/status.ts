// Benchmark: migrate:status against 10 000 applied migrations (target: ≤ 1 s).
// Run: node -r ts-node/register bench/status.ts
// Starts an embedded PostgreSQL, writes 10 000 trivial migration files to a temp dir, fills node-pg-migrate's ledger and
// the checksum table directly with SQL (nothing is migrated), times the status task (median after a warm-up), and
// removes the server and the files whatever happens.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashMigrationContent, upsertChecksums } from '../tasks/checksums';
import { createContext } from '../tasks/context';
import { createEnsureEnvTask } from '../tasks/ensure-env';
import { withClient } from '../tasks/pg-client';
import { createStatusTask, type StatusDocument } from '../tasks/status';
import { startTestServer, type TestServer } from '../test/support/database';

const MIGRATIONS = 10_000;
const WARM_UP_RUNS = 1;
const TIMED_RUNS = 7;
const TARGET_MS = 1_000;
const CONTENT = '-- Up Migration\nSELECT 1;\n\n-- Down Migration\nSELECT 1;\n';
const SILENT = { info() {}, warn() {}, error() {}, debug() {} };

const nameOf = (index: number) => `${1_700_000_000_000 + index * 1_000}_migration_${index}`;

async function main(): Promise<void> {
  let server: TestServer | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-bench-status-'));
  try {
    const migrationsDir = path.join(dir, 'migrations');
    const started = performance.now();
    server = await startTestServer();
    const url = await server.freshDatabase('bench_status');
    writeMigrations(migrationsDir);
    await fillLedger(url);
    console.log(`Set up a server, ${MIGRATIONS.toLocaleString('en')} migration files and their ledger rows in ${ms(performance.now() - started)}`);

    for (const json of [false, true]) {
      const times: number[] = [];
      let document = '';
      for (let run = 0; run < WARM_UP_RUNS + TIMED_RUNS; run += 1) {
        const ctx = createContext({ logger: SILENT, env: { DATABASE_URL: url }, argv: ['migrate:status', '--migrations-dir', migrationsDir, ...(json ? ['--json'] : [])], cwd: dir });
        await createEnsureEnvTask(ctx, { migrates: true })();
        const status = createStatusTask(ctx, { write: (text) => (document = text) });
        const before = performance.now();
        await status();
        if (run >= WARM_UP_RUNS) times.push(performance.now() - before);
        else if (!json) console.log(`  first run (cold: loads node-pg-migrate's comparator): ${ms(performance.now() - before)}`);
      }
      if (json) assertAllApplied(document);
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      console.log(
        `migrate:status${json ? ' --json' : ''}, ${MIGRATIONS.toLocaleString('en')} applied migrations: median ${ms(median)} ` +
          `(min ${ms(times[0]!)}, max ${ms(times.at(-1)!)}, ${TIMED_RUNS} runs after ${WARM_UP_RUNS} warm-up) — ${median <= TARGET_MS ? 'within' : 'OVER'} the ${TARGET_MS} ms target`,
      );
    }

    // Adopting an existing project: every migration applied, none with a checksum; --accept records them all once.
    await withClient(url, (client) => client.query('TRUNCATE pgmt_migration_checksums'));
    let document = '';
    const ctx = createContext({ logger: SILENT, env: { DATABASE_URL: url }, argv: ['migrate:status', '--migrations-dir', migrationsDir, '--json', '--accept'], cwd: dir });
    await createEnsureEnvTask(ctx, { migrates: true })();
    const before = performance.now();
    await createStatusTask(ctx, { write: (text) => (document = text) })();
    const accepted = (JSON.parse(document) as StatusDocument).accepted.length;
    assertAllApplied(document);
    console.log(`migrate:status --accept, recording ${accepted.toLocaleString('en')} missing checksums: ${ms(performance.now() - before)} (one run)`);
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeMigrations(migrationsDir: string): void {
  mkdirSync(migrationsDir);
  for (let index = 0; index < MIGRATIONS; index += 1) writeFileSync(path.join(migrationsDir, `${nameOf(index)}.sql`), CONTENT);
}

/** node-pg-migrate's ledger (its own DDL) and our checksums, as if every migration had been applied through the tasks. */
async function fillLedger(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('CREATE TABLE "public"."pgmigrations" (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)');
    await client.query(
      `INSERT INTO pgmigrations (name, run_on)
       SELECT (1700000000000 + i * 1000)::text || '_migration_' || i, now() - (${MIGRATIONS} - i) * interval '1 second'
       FROM generate_series(0, ${MIGRATIONS - 1}) AS i ORDER BY i`,
    );
    const names = Array.from({ length: MIGRATIONS }, (_, index) => nameOf(index));
    await upsertChecksums(client, names, names.map(() => hashMigrationContent(CONTENT)));
  });
}

function assertAllApplied(text: string): void {
  const document = JSON.parse(text) as StatusDocument;
  if (document.summary.applied !== MIGRATIONS || document.exitCode !== 0) {
    throw new Error(`expected ${MIGRATIONS} applied migrations and exit 0, got ${JSON.stringify(document.summary)} exit ${document.exitCode}`);
  }
}

const ms = (value: number) => `${Math.round(value)} ms`;

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
