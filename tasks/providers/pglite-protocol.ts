/**
 * What the pglite server child (postgres/pglite-server.ts) tells the provider (pglite.ts): one stdout line, this prefix and a
 * JSON {@link ServerMessage}. The prefix sets it apart from anything PGlite itself prints.
 */
export const MESSAGE_PREFIX = 'PGMT-PGLITE ';

/** Listening on `port` (with `SELECT version()`), or why it could not start. */
export type ServerMessage = { port: number; version: string } | { error: string };
