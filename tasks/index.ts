/** pg-migrate-tasks: composable Gulp 5 tasks for a PostgreSQL schema workflow on node-pg-migrate. */
export { createContext, type TaskContext, type ContextOptions } from './context';
export { createEnsureEnvTask, type EnsureEnvOptions } from './ensure-env';
export { createStartDbTask, type StartDbOptions } from './start-db';
export { createWaitDbTask, type WaitDbOptions } from './wait-db';
export { createMigrateTask, type MigrateOptions } from './migrate';
export { createTeardownTask } from './teardown';
export { createDbStopTask } from './db-stop';
export { withTeardown } from './with-teardown';
export { defineTask, describeTask } from './define-task';
export { TaskError } from './errors';
export { resolveConfig, type Config, type ProviderName, type Direction } from './config';
export { redactUrl } from './redact';
export type { Logger } from './logger';
export type { Provider, StartedDatabase } from './providers/index';
