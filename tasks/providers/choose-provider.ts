import type { Config } from '../settings/config';
import { withClient } from '../db/pg-client';
import { redactUrl } from '../util/redact';
import { detectContainerRuntime } from './container-runtime';
import { extensionChoice } from './extension-choice';
import { PROVIDERS } from './index';
import type { Provider } from './types';

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
export async function chooseProvider(config: Config): Promise<ProviderChoice> {
  if (config.provider !== 'auto') return { provider: PROVIDERS[config.provider], reason: `chosen by ${config.providerSource}` };

  const configured = config.connectionSource === 'DATABASE_URL' || config.connectionSource === 'DB_* variables';
  if (config.keepDb && configured && (await answers(config.url))) {
    return { provider: PROVIDERS.external, reason: `KEEP_DB=1 and a database answers at ${redactUrl(config.url)}` };
  }
  const runtime = await detectContainerRuntime();
  if (runtime.available) return { provider: PROVIDERS.docker, reason: `a container runtime answers (${runtime.description}); DB_PROVIDER=embedded uses local binaries instead` };
  const extensions = await extensionChoice(config);
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
