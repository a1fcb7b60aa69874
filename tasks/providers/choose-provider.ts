import { withClient } from '../db/pg-client';
import { redactUrl } from '../util/redact';
import { detectContainerRuntime } from './container-runtime';
import { extensionChoice } from './extension-choice';
import { PROVIDERS } from './index';
import type { DatabaseSettings, Provider } from './types';

export interface ProviderChoice {
  provider: Provider;
  /** One line for the log: why this provider. */
  reason: string;
}

/**
 * DB_PROVIDER/--provider when set; for `auto`: an existing database when KEEP_DB=1 and one answers at the configured
 * URL, Docker when a container runtime answers, otherwise local binaries, or PGlite when the migrations create an
 * extension those binaries lack and PGlite ships (pgvector, typically).
 */
export async function chooseProvider(settings: DatabaseSettings): Promise<ProviderChoice> {
  if (settings.provider.name !== 'auto') return { provider: PROVIDERS[settings.provider.name], reason: `chosen by ${settings.provider.chosenBy}` };

  const configured = settings.connection.source === 'DATABASE_URL' || settings.connection.source === 'DB_* variables';
  if (settings.provider.keepDb && configured && (await answers(settings.connection.url))) {
    return { provider: PROVIDERS.external, reason: `KEEP_DB=1 and a database answers at ${redactUrl(settings.connection.url)}` };
  }
  const runtime = await detectContainerRuntime();
  if (runtime.available)
    return { provider: PROVIDERS.docker, reason: `a container runtime answers (${runtime.description}); DB_PROVIDER=embedded uses local binaries instead` };
  const extensions = await extensionChoice(settings);
  if (extensions?.pglite) return { provider: PROVIDERS.pglite, reason: `${runtime.reason}; ${extensions.reason}` };
  const note = extensions ? `; ${extensions.reason}` : '; using local PostgreSQL binaries';
  return { provider: PROVIDERS.embedded, reason: `${runtime.reason}${note}` };
}

async function answers(url: string): Promise<boolean> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'), 1_500);
    return true;
  } catch {
    return false;
  }
}
