import type { Client, ClientConfig } from 'pg';

/**
 * Connection options for a URL that fail fast: a short connect timeout, no hanging on a dead host, and TCP keepalive
 * (after 10 s idle), so that a connection whose peer is gone (a dropped network, a host that went away) is noticed by
 * the kernel instead of waited on forever. A server that is frozen but whose host still answers TCP is watchServer's.
 */
export function clientConfig(url: string, connectTimeoutMs = 5_000): ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: 'pg-migrate-tasks',
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * Opens a client, runs `work`, and always closes it.
 * @example const tables = await withClient(url, (client) => client.query('SELECT 1'))
 */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>, connectTimeoutMs?: number): Promise<T> {
  const { Client: PgClient } = await import('pg');
  const client = new PgClient(clientConfig(url, connectTimeoutMs));
  client.on('error', () => {
    // A server that goes away while idle would otherwise crash the process; the pending query rejects anyway.
  });
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
