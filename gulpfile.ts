// Wiring only: one context per gulp process, the task factories, and their composition.
import { series } from 'gulp';
import gulplog from 'gulplog';
import {
  createContext,
  createCreateMigrationTask,
  createDbStopTask,
  createEnsureEnvTask,
  createMigrateTask,
  createRedoTask,
  createStartDbTask,
  createStatusTask,
  createTeardownTask,
  createVerifyGuardTask,
  createVerifyTask,
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
    flags: ['provider', 'direction', 'count', 'dryRun', 'timeout', 'migrationsDir', 'dotenv', 'singleTransaction'],
  },
);

export const migrate = describeTask(series(createEnsureEnvTask(ctx, { migrates: true }), createWaitDbTask(ctx), createMigrateTask(ctx)), {
  name: 'migrate',
  description: 'Migrate the database at DATABASE_URL (or DB_*): `gulp migrate --direction down` rolls back the last one',
  flags: ['direction', 'count', 'dryRun', 'timeout', 'migrationsDir', 'dotenv', 'singleTransaction'],
});

export const migrateStatus = describeTask(series(createEnsureEnvTask(ctx, { migrates: true }), createWaitDbTask(ctx), createStatusTask(ctx)), {
  name: 'migrate:status',
  description: 'Show each migration: applied, pending, out of order, missing, edited, no checksum (exit 1 pending, 2 drift, 3 both)',
  flags: ['json', 'accept', 'timeout', 'migrationsDir', 'dotenv'],
});

export const migrateCreate = describeTask(series(createEnsureEnvTask(ctx, { connects: false }), createCreateMigrationTask(ctx)), {
  name: 'migrate:create',
  description: 'Create migrations/<timestamp>_<name>.ts (or --lang js|sql) from a template; needs no database',
  flags: ['name', 'lang', 'migrationsDir', 'dotenv'],
});

export const migrateRedo = describeTask(series(createEnsureEnvTask(ctx, { migrates: true }), createWaitDbTask(ctx), createRedoTask(ctx)), {
  name: 'migrate:redo',
  description: 'Roll back the last N applied migrations (default 1) and apply them again',
  flags: ['count', 'timeout', 'migrationsDir', 'dotenv', 'singleTransaction'],
});

export const migrateVerify = describeTask(
  withTeardown(
    series(
      createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true }),
      createVerifyGuardTask(ctx),
      createStartDbTask(ctx, { keep: false }),
      createWaitDbTask(ctx),
      createVerifyTask(ctx),
    ),
    createTeardownTask(ctx),
  ),
  {
    name: 'migrate:verify',
    description: 'On a throw-away database: apply each migration, roll each back, apply again; each down must reverse its up',
    flags: ['provider', 'timeout', 'migrationsDir', 'dotenv'],
  },
);

export const dbStart = describeTask(
  withTeardown(
    series(createEnsureEnvTask(ctx, { startsDatabase: true }), createStartDbTask(ctx, { keep: true }), createWaitDbTask(ctx)),
    createTeardownTask(ctx),
  ),
  { name: 'db:start', description: 'Start a local PostgreSQL and keep it running (stop it with db:stop)', flags: ['provider', 'timeout', 'dotenv'] },
);

export const dbStop = createDbStopTask(ctx);

