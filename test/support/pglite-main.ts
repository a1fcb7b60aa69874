// Starts a PGlite database the way `gulp migrate:local` does (ensureEnv → startDb, DB_PROVIDER=pglite) in the
// project folder given as the first argument, prints `URL <url>`, and stays up until it is killed: for tests that
// check what happens to the PGlite child when its parent dies. Run: node -r loader/register-ts.cjs test/support/pglite-main.ts DIR
import { createContext } from '../../tasks/gulp/context';
import { createEnsureEnvTask } from '../../tasks/gulp/steps/ensure-env';
import { createStartDbTask } from '../../tasks/gulp/steps/start-db';

async function main(): Promise<void> {
  const ctx = createContext({ env: { ...process.env, DB_PROVIDER: 'pglite' }, argv: ['migrate:local'], cwd: process.argv[2] });
  await createEnsureEnvTask(ctx, { startsDatabase: true })();
  await createStartDbTask(ctx)();
  process.stdout.write(`URL ${ctx.handoff.database!.url}\n`);
  setInterval(() => undefined, 60_000);
}

void main();
