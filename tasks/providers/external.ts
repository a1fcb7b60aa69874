import { redactUrl } from '../util/redact';
import type { Provider } from './types';

/** A database that already exists at the resolved URL: nothing to start, nothing to stop. */
export const externalProvider: Provider = {
  name: 'external',
  async start(config) {
    return {
      provider: 'external',
      url: config.url,
      description: `existing database at ${redactUrl(config.url)}`,
      stop: async () => undefined,
    };
  },
};
