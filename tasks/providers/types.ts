import type { Cleanups } from '../util/cleanups';
import type { ConnectionSettings, ProviderName, ProviderSettings, SourceSettings } from '../settings/settings';
import type { KeptDatabaseState } from '../settings/kept-state';
import type { Logger } from '../util/logger';

/** A database a provider started (or found), and how to let go of it. */
export interface StartedDatabase {
  provider: Exclude<ProviderName, 'auto'>;
  /** Application-role URL, password included: never print it, use redactUrl. */
  url: string;
  /** Superuser URL when the provider started the server; undefined for external databases. */
  superuserUrl?: string;
  /** One line for logs, without secrets, e.g. "PostgreSQL 18.4 on 127.0.0.1:41234 (embedded, /tmp/pgmt-abc)". */
  description: string;
  /** What a later run needs to reuse or stop it when KEEP_DB=1; undefined when there is nothing to keep. */
  keptState?: KeptDatabaseState;
  /** Stops and removes everything the provider started. Idempotent; a no-op for external databases. */
  stop(): Promise<void>;
  /**
   * The last lines of the server's own log, for a server the tasks started and whose log they keep (embedded):
   * what a lost connection looks like from the server's side (a full disk, a crash). Undefined when there is none.
   */
  logTail?(lines?: number): Promise<string | undefined>;
}

/** What a provider may use while starting. */
export interface ProviderRuntime {
  logger: Logger;
  /** Register anything started before the handle exists, so Ctrl-C mid-start still cleans up. */
  cleanups: Cleanups;
  /** Passwords generated on the way are added here so output masks them. */
  secrets: Set<string>;
}

/** What a provider reads: how to start (provider), the role and database to create (connection), the migrations (source). */
export interface DatabaseSettings {
  provider: ProviderSettings;
  connection: ConnectionSettings;
  source: SourceSettings;
}

/** Starts a database. One file per provider; `auto` picks one. */
export interface Provider {
  name: Exclude<ProviderName, 'auto'>;
  start(settings: DatabaseSettings, runtime: ProviderRuntime): Promise<StartedDatabase>;
  /** Rebuilds a handle from a kept database's record (for db:stop and reuse); undefined if it is gone. */
  resume?(state: KeptDatabaseState, runtime: ProviderRuntime): Promise<StartedDatabase | undefined>;
}
