import { redactUrl } from '../util/redact';
import type { Provider } from './types';

/** A database that already exists at the resolved URL: nothing to start, nothing to stop. */
export const externalProvider: Provider = {
  name: 'external',
  async start(settings) {
    return {
      provider: 'external',
      url: settings.connection.url,
      description: `existing database at ${redactUrl(settings.connection.url)}`,
      stop: async () => undefined,
    };
  },
};
