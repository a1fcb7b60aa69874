import type { ConnectionParts } from '../settings/settings';

/** Why a connection attempt failed, in terms a user can act on. */
export interface ConnectionFailure {
  kind: 'refused' | 'auth' | 'no-database' | 'no-role' | 'unknown-host' | 'starting' | 'timeout' | 'damaged' | 'other';
  /** Whether waiting longer could help. */
  transient: boolean;
  message: string;
  hint: string;
}

/** Classifies a pg/network error from connecting to `target`. */
export function classifyConnectionError(error: unknown, target: Pick<ConnectionParts, 'host' | 'port' | 'database' | 'user'>): ConnectionFailure {
  const { code, message = String(error) } = (error ?? {}) as { code?: string; message?: string };
  const where = `${target.host}:${target.port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return {
        kind: 'refused',
        transient: true,
        message: `connection refused at ${where}`,
        hint: 'is the server up and listening there? Start one with `gulp db:start` (or `docker compose up -d postgres`), or check DB_HOST/DB_PORT',
      };
    case '28P01':
      return {
        kind: 'auth',
        transient: false,
        message: `password authentication failed for user "${target.user}" at ${where}`,
        hint: 'check DB_PASSWORD (or the password in DATABASE_URL), or recreate the local database: `gulp db:stop`, then `gulp db:start`',
      };
    case '3D000':
      return {
        kind: 'no-database',
        transient: false,
        message: `database "${target.database}" does not exist at ${where}`,
        hint: `create it (createdb ${target.database}) or check DB_NAME / the database in DATABASE_URL`,
      };
    case '28000':
      return {
        kind: 'no-role',
        transient: false,
        message: `the server at ${where} rejected role "${target.user}": ${message}`,
        hint: 'check DB_USER, or recreate the local database so its init scripts create the role: `gulp db:stop`, then `gulp db:start`',
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return {
        kind: 'unknown-host',
        transient: code === 'EAI_AGAIN',
        message: `unknown host "${target.host}"`,
        hint: 'check DB_HOST (or the host in DATABASE_URL); for a local database use 127.0.0.1',
      };
    case 'XX001':
    case 'XX002':
      // data_corrupted / index_corrupted: a damaged page of the database's files, the same on every attempt.
      return {
        kind: 'damaged',
        transient: false,
        message: `the database "${target.database}" at ${where} is damaged: ${message}`,
        hint: 'for a database these tasks started, remove it (`gulp db:stop`) and run the command again; for any other, check its files (pg_amcheck) or restore it from a backup',
      };
    case '57P03':
      return {
        kind: 'starting',
        transient: true,
        message: `the server at ${where} is still starting up`,
        hint: 'wait a little longer: raise DB_WAIT_TIMEOUT or pass --timeout',
      };
    default:
      if (/timeout/i.test(message) || code === 'ETIMEDOUT') {
        return {
          kind: 'timeout',
          transient: true,
          message: `no answer from ${where} (connection timed out)`,
          hint: 'check that the host is reachable and the port is right, or raise --timeout',
        };
      }
      return {
        kind: 'other',
        transient: true,
        message: `could not connect to ${where}: ${message}`,
        hint: 'check the connection settings, or run with --timeout to wait longer',
      };
  }
}
