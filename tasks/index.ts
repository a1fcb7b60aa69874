/**
 * pg-migrate-tasks: a PostgreSQL schema workflow on node-pg-migrate, as Gulp 5 tasks.
 *
 * - The commands, ready to export from a gulpfile: {@link createMigrationTasks} (or {@link MigrationTasksRegistry}).
 * - The steps they are made of, to compose commands of your own: {@link stepFactories}, {@link composeCommand}.
 * - The engine, for scripts: typed settings in ({@link resolveSettings}), results out, no gulp.
 * @packageDocumentation
 */

// The commands.
export { createMigrationTasks, MigrationTasksRegistry, type MigrationTasks, type MigrationTasksOptions } from './gulp/migration-tasks';
export { COMMANDS, COMMAND_IDS, type CommandId, type CommandRow } from './gulp/commands';
export { FLAGS, type FlagName, type FlagSpec } from './settings/flags';

// Steps and composition.
export { createContext, need, type ContextOptions, type Handoff, type HandoffKey, type TaskContext } from './gulp/context';
export { composeCommand, runSteps, type AnyStep, type Command, type CommandDefinition, type WiredSteps } from './gulp/compose';
export { defineStep, type Step, type StepInfo, type StepRequirements } from './gulp/step';
export { stepFactories, createCustomStep, type CustomStepDefinition, type CustomStepInput, type StepFactories } from './gulp/step-factories';
export { createEnsureEnvTask, type EnsureEnvOptions } from './gulp/steps/ensure-env';
export { createStartDbTask, type StartDbOptions } from './gulp/steps/start-db';
export { createWaitDbTask, type WaitDbOptions } from './gulp/steps/wait-db';
export { createMigrateTask, type MigrateStepOptions } from './gulp/steps/migrate';
export { createTeardownTask } from './gulp/steps/teardown';
export { createDbStopTask } from './gulp/steps/db-stop';
export { createStatusTask, type StatusStepOptions } from './gulp/steps/status';
export { createCreateMigrationTask, type CreateMigrationStepOptions } from './gulp/steps/create-migration';
export { createRedoTask, type RedoOptions } from './gulp/steps/redo';
export { createVerifyGuardTask, createVerifyTask } from './gulp/steps/verify';
export { createLintTask, type LintTaskOptions } from './gulp/steps/lint';
export { createWatchTask, type WatchTaskOptions } from './gulp/steps/watch';
export { createCloneDatabasesTask, createRunCommandTask, type CloneDatabasesStepOptions, type RunCommandStepOptions } from './gulp/steps/db-run';
export { lintMigrations, lintReport, type LintMigrationsOptions, type LintReportOptions } from './gulp/lint-plugin';

// The engine.
export { resolveSettings, type Settings, type ProjectDefaults, type ProviderName, type Direction } from './settings/settings';
export { migrate, type MigrateOptions, type MigrateResult } from './engine/migrate';
export { runMigrations, type RanMigration } from './engine/run-migrations';
export { dryRunMigrations, type DryRunPlan } from './engine/dry-run';
export { redoMigrations } from './engine/redo';
export { verifyMigrations, type VerifyMigrationsOptions } from './engine/verify';
export { migrationStatus, type StatusDocument } from './engine/status';
export { MIGRATION_STATES, EXIT_PENDING, EXIT_DRIFT, type MigrationState, type MigrationStatus } from './engine/status-model';
export { createMigration } from './engine/create-migration';
export { lintProject } from './engine/lint';
export { cloneDatabases, dropClones, databaseEnv, type DatabaseClone, type DatabaseClones } from './engine/clone-databases';
export { runShellCommand, type RunShellCommandOptions, type ShellCommandResult } from './engine/run-command';
export type { Diagnostic, FileLintResult, RuleMeta, Severity } from './lint/types';
export type { DatabaseSettings, Provider, StartedDatabase } from './providers/types';

// Errors and output.
export { TaskError } from './util/errors';
export { redactUrl } from './util/redact';
export type { Logger } from './util/logger';
