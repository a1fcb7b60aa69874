// Wiring only: one context per gulp process, the task factories, and their composition. Each task's flags are
// listed once: ensureEnv rejects the others, and `gulp --tasks` shows them.
import { series } from 'gulp';
import gulplog from 'gulplog';
import {
  createContext,
  createCreateMigrationTask,
  createDbStopTask,
  createEnsureEnvTask,
  createLintTask,
  createMigrateTask,
  createRedoTask,
  createStartDbTask,
  createStatusTask,
  createTeardownTask,
  createVerifyGuardTask,
  createVerifyTask,
  createWaitDbTask,
  createWatchTask,
  describeTask,
  withTeardown,
  type FlagName,
} from './tasks';

const ctx = createContext({ logger: gulplog, setExitCode: (code) => (process.exitCode = code) });

const LOCK_FLAGS: FlagName[] = ['lockMode', 'lockTimeout', 'statementTimeout'];
const MIGRATE_FLAGS: FlagName[] = ['direction', 'count', 'dryRun', 'singleTransaction', 'lint', ...LOCK_FLAGS, 'timeout', 'migrationsDir', 'ignorePattern', 'dotenv'];
const MIGRATE_LOCAL_FLAGS: FlagName[] = ['provider', ...MIGRATE_FLAGS];
const STATUS_FLAGS: FlagName[] = ['json', 'accept', 'name', 'timeout', 'migrationsDir', 'ignorePattern', 'dotenv'];
const CREATE_FLAGS: FlagName[] = ['name', 'lang', 'migrationsDir', 'dotenv'];
const REDO_FLAGS: FlagName[] = ['count', 'singleTransaction', ...LOCK_FLAGS, 'timeout', 'migrationsDir', 'ignorePattern', 'dotenv'];
const VERIFY_FLAGS: FlagName[] = ['provider', 'timeout', 'migrationsDir', 'ignorePattern', 'dotenv'];
const DB_START_FLAGS: FlagName[] = ['provider', 'timeout', 'dotenv'];
const LINT_FLAGS: FlagName[] = ['format', 'migrationsDir', 'ignorePattern', 'dotenv'];
const WATCH_FLAGS: FlagName[] = ['apply', ...LOCK_FLAGS, 'provider', 'timeout', 'migrationsDir', 'ignorePattern', 'dotenv'];

export const migrateLocal = describeTask(
  withTeardown(
    series(
      createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true, applies: true, flags: MIGRATE_LOCAL_FLAGS }),
      createStartDbTask(ctx),
      createWaitDbTask(ctx),
      createMigrateTask(ctx),
    ),
    createTeardownTask(ctx),
  ),
  {
    name: 'migrate:local',
    description: 'Start a disposable PostgreSQL, run the migrations, tear it down (KEEP_DB=1 keeps and reuses it)',
    flags: MIGRATE_LOCAL_FLAGS,
  },
);

export const migrate = describeTask(
  series(createEnsureEnvTask(ctx, { migrates: true, applies: true, flags: MIGRATE_FLAGS }), createWaitDbTask(ctx), createMigrateTask(ctx)),
  {
    name: 'migrate',
    description: 'Migrate the database at DATABASE_URL (or DB_*): `gulp migrate --direction down` rolls back the last one',
    flags: MIGRATE_FLAGS,
  },
);

export const migrateStatus = describeTask(
  series(createEnsureEnvTask(ctx, { migrates: true, flags: STATUS_FLAGS }), createWaitDbTask(ctx), createStatusTask(ctx)),
  {
    name: 'migrate:status',
    description: 'Show each migration: applied, pending, out of order, missing, edited, no checksum (exit 2 pending, 4 drift)',
    flags: STATUS_FLAGS,
  },
);

export const migrateCreate = describeTask(
  series(createEnsureEnvTask(ctx, { connects: false, flags: CREATE_FLAGS }), createCreateMigrationTask(ctx)),
  {
    name: 'migrate:create',
    description: 'Create migrations/<timestamp>_<name>.ts (or --lang js|sql) from a template; needs no database',
    flags: CREATE_FLAGS,
  },
);

export const migrateRedo = describeTask(
  series(createEnsureEnvTask(ctx, { migrates: true, applies: true, flags: REDO_FLAGS }), createWaitDbTask(ctx), createRedoTask(ctx)),
  {
    name: 'migrate:redo',
    description: 'Roll back the last N applied migrations (default 1) and apply them again',
    flags: REDO_FLAGS,
  },
);

export const migrateVerify = describeTask(
  withTeardown(
    series(
      createEnsureEnvTask(ctx, { startsDatabase: true, migrates: true, applies: true, flags: VERIFY_FLAGS }),
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
    flags: VERIFY_FLAGS,
  },
);

export const dbStart = describeTask(
  withTeardown(
    series(
      createEnsureEnvTask(ctx, { startsDatabase: true, flags: DB_START_FLAGS }),
      createStartDbTask(ctx, { keep: true }),
      createWaitDbTask(ctx),
    ),
    createTeardownTask(ctx),
  ),
  { name: 'db:start', description: 'Start a local PostgreSQL and keep it running (stop it with db:stop)', flags: DB_START_FLAGS },
);

export const dbStop = createDbStopTask(ctx);

export const lint = describeTask(
  series(createEnsureEnvTask(ctx, { connects: false, migrates: true, flags: LINT_FLAGS }), createLintTask(ctx)),
  {
    name: 'lint',
    description: 'Lint the migrations without a database: load and syntax errors, names and order, unsafe SQL (--format json for CI)',
    flags: LINT_FLAGS,
  },
);

// The watch task runs ensureEnv itself (and, with --apply, startDb and waitDb): what it needs depends on --apply.
export const watch = describeTask(withTeardown(createWatchTask(ctx, { flags: WATCH_FLAGS }), createTeardownTask(ctx)), {
  name: 'watch',
  description: 'Lint each migration as it is saved (Ctrl-C stops); --apply also applies new ones to a kept local database',
  flags: WATCH_FLAGS,
});
