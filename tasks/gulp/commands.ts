// The command table: each command a user runs is one row. Its flags are those of its steps, its checks are what its
// steps require (ensureEnv learns them when the steps are composed); `gulp --tasks`, flag validation and
// docs/commands.md come from here.
import type { AnyStep } from './compose';
import type { StepFactories } from './step-factories';

/** The commands, by the name they are exported under (`module.exports = createMigrationTasks()`). */
export type CommandId =
  | 'migrateLocal'
  | 'migrate'
  | 'migrateStatus'
  | 'migrateCreate'
  | 'migrateRedo'
  | 'migrateVerify'
  | 'dbStart'
  | 'dbStop'
  | 'dbRun'
  | 'lint'
  | 'watch'
  | 'schemaDump'
  | 'schemaCheck'
  | 'migrateDrift'
  | 'migrateBaseline';

/** One command: how it is run, what `gulp --tasks` says of it, and its steps. */
export interface CommandRow {
  /** The canonical name: `gulp <name>` (a prefix or a rename changes what is registered, see createMigrationTasks). */
  readonly name: string;
  readonly description: string;
  /** Its steps in order, from the factories bound to the run's context. */
  readonly steps: (s: StepFactories) => readonly AnyStep[];
}

const withApply = (flags: { apply?: boolean }) => flags.apply === true;

export const COMMANDS: Readonly<Record<CommandId, CommandRow>> = {
  migrateLocal: {
    name: 'migrate:local',
    description: 'Start a disposable PostgreSQL, run the migrations, tear it down (KEEP_DB=1 keeps and reuses it)',
    steps: (s) => [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate({ refreshSchema: true }), s.teardown()],
  },
  migrate: {
    name: 'migrate',
    description: 'Migrate the database at DATABASE_URL (or DB_*): `gulp migrate --direction down` rolls back the last one',
    steps: (s) => [s.ensureEnv(), s.waitDb(), s.migrate({ name: 'runMigrations', fleet: true })],
  },
  migrateStatus: {
    name: 'migrate:status',
    description: 'Show each migration: applied, pending, out of order, missing, edited, no checksum (exit 2 pending, 4 drift)',
    steps: (s) => [s.ensureEnv(), s.waitDb(), s.status()],
  },
  migrateCreate: {
    name: 'migrate:create',
    description: 'Create migrations/<timestamp>_<name>.ts (or --lang js|sql) from a template; needs no database',
    steps: (s) => [s.ensureEnv(), s.createMigration()],
  },
  migrateRedo: {
    name: 'migrate:redo',
    description: 'Roll back the last N applied migrations (default 1) and apply them again',
    steps: (s) => [s.ensureEnv(), s.waitDb(), s.redo()],
  },
  migrateVerify: {
    name: 'migrate:verify',
    description: 'On a throw-away database: apply each migration, roll each back, apply again; each down must reverse its up',
    steps: (s) => [s.ensureEnv(), s.verifyGuard(), s.startDb({ keep: false }), s.waitDb(), s.verify(), s.teardown()],
  },
  dbStart: {
    name: 'db:start',
    description: 'Start a local PostgreSQL and keep it running (stop it with db:stop)',
    steps: (s) => [s.ensureEnv(), s.startDb({ keep: true }), s.waitDb(), s.teardown()],
  },
  dbStop: {
    name: 'db:stop',
    description: 'Stop the database kept by KEEP_DB=1 or db:start',
    steps: (s) => [s.stopDb()],
  },
  dbRun: {
    name: 'db:run',
    description: 'Migrate a disposable PostgreSQL, run --run COMMAND (your tests) with DATABASE_URL pointing at it, tear it down; exit with its status',
    steps: (s) => [s.ensureEnv(), s.startDb(), s.waitDb(), s.migrate(), s.cloneDatabases(), s.runCommand(), s.teardown()],
  },
  lint: {
    name: 'lint',
    description: 'Lint the migrations without a database: load and syntax errors, names and order, unsafe SQL (--format json for CI)',
    steps: (s) => [s.ensureEnv(), s.lint()],
  },
  watch: {
    name: 'watch',
    description: 'Lint each migration as it is saved (Ctrl-C stops); --apply also applies new ones to a kept local database',
    steps: (s) => [s.ensureEnv(), s.startDb({ keep: true, when: withApply }), s.waitDb({ when: withApply }), s.watch(), s.teardown()],
  },
  schemaDump: {
    name: 'schema:dump',
    description: 'Migrate a throw-away database and write its schema to schema.sql (SCHEMA_FILE): commit it, reviews show each change',
    steps: (s) => [s.ensureEnv(), s.startDb({ keep: false }), s.waitDb(), s.migrate(), s.dumpSchema(), s.teardown()],
  },
  schemaCheck: {
    name: 'schema:check',
    description: 'Fail with a diff when the committed schema file is not what the migrations produce (the CI check)',
    steps: (s) => [s.ensureEnv(), s.startDb({ keep: false }), s.waitDb(), s.migrate(), s.checkSchema(), s.teardown()],
  },
  migrateDrift: {
    name: 'migrate:drift',
    description: 'Compare the schema of the database at DATABASE_URL with what its applied migrations produce (only reads it; exit 4 on drift)',
    steps: (s) => [s.ensureEnv(), s.waitDb(), s.liveServer('migrate:drift'), s.startDb({ keep: false }), s.waitDb(), s.drift(), s.teardown()],
  },
  migrateBaseline: {
    name: 'migrate:baseline',
    description: 'Adopt an existing database: record the migrations up to --to NAME as applied, after checking its schema is what they produce',
    steps: (s) => [s.ensureEnv(), s.waitDb(), s.liveServer('migrate:baseline'), s.startDb({ keep: false }), s.waitDb(), s.baseline(), s.teardown()],
  },
};

export const COMMAND_IDS = Object.keys(COMMANDS) as CommandId[];
