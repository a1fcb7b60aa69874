import type { ProviderName } from '../settings/settings';
import { composeProvider } from './compose';
import { dockerProvider } from './docker';
import { embeddedProvider } from './embedded';
import { externalProvider } from './external';
import { pgliteProvider } from './pglite';
import type { Provider } from './types';

/** Every provider by name; `auto` is a choice among them (see choose-provider.ts). */
export const PROVIDERS: Record<Exclude<ProviderName, 'auto'>, Provider> = {
  embedded: embeddedProvider,
  docker: dockerProvider,
  compose: composeProvider,
  external: externalProvider,
  pglite: pgliteProvider,
};

export type { DatabaseSettings, Provider, ProviderRuntime, StartedDatabase } from './types';
