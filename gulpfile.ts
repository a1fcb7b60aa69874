// Wiring only: one context per gulp process, the task factories, and their composition.
import { series } from 'gulp';
import gulplog from 'gulplog';
import {
  createContext,
  createDbStopTask,
  createEnsureEnvTask,
  createMigrateTask,
  createStartDbTask,
  createTeardownTask,
  createWaitDbTask,
  describeTask,
  withTeardown,
} from './tasks';

const ctx = createContext({ logger: gulplog, setExitCode: (code) => (process.exitCode = code) });

export const migrateLocal = describeTask(
  withTeardown(
    series(
      createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true }),
      createStartDbTask(ctx),
      createWaitDbTask(ctx),
      createMigrateTask(ctx),
    ),
    createTeardownTask(ctx),
  ),
  {
    name: 'migrate:local',
    description: 'Start a disposable PostgreSQL, run the migrations, tear it down (KEEP_DB=1 keeps and reuses it)',
    flags: ['provider', 'direction', 'count', 'timeout', 'migrationsDir', 'dotenv', 'singleTransaction'],
  },
);

export const migrate = describeTask(series(createEnsureEnvTask(ctx, { migrates: true }), createWaitDbTask(ctx), createMigrateTask(ctx)), {
  name: 'migrate',
  description: 'Migrate the database at DATABASE_URL (or DB_*): `gulp migrate --direction down` rolls back the last one',
  flags: ['direction', 'count', 'timeout', 'migrationsDir', 'dotenv', 'singleTransaction'],
});

export const dbStart = describeTask(
  withTeardown(
    series(createEnsureEnvTask(ctx, { startsDatabase: true }), createStartDbTask(ctx, { keep: true }), createWaitDbTask(ctx)),
    createTeardownTask(ctx),
  ),
  { name: 'db:start', description: 'Start a local PostgreSQL and keep it running (stop it with db:stop)', flags: ['provider', 'timeout', 'dotenv'] },
);

export const dbStop = createDbStopTask(ctx);

