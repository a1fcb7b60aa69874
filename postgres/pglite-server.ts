// The pglite provider's child process (see pglite.ts): an in-memory PGlite served over PostgreSQL's wire protocol on
// 127.0.0.1. Run as `node -r loader/register-ts.cjs postgres/pglite-server.ts --extensions vector,pg_trgm`.
// It prints one line `PGMT-PGLITE {json}` on stdout once it listens ({ port, version }) or failed ({ error }), and ends
// when its stdin closes (its parent ended, however), or on SIGINT / SIGTERM / SIGHUP. It writes no file.
import { parseArgs } from 'node:util';
import { pgliteExtensionModule } from '../tasks/providers/pglite-extensions';
import { MESSAGE_PREFIX, type ServerMessage } from '../tasks/providers/pglite-protocol';

/** Connections node-pg-migrate and our own clients may hold at once (PGlite runs their queries one at a time). */
const DEFAULT_MAX_CONNECTIONS = 100;

// The ESM typings: the modules are loaded with import() below.
type Extension = import('@electric-sql/pglite', { with: { 'resolution-mode': 'import' } }).Extension;

function send(message: ServerMessage): void {
  process.stdout.write(`${MESSAGE_PREFIX}${JSON.stringify(message)}\n`);
}

async function loadExtensions(names: string[]): Promise<Record<string, Extension>> {
  const extensions: Record<string, Extension> = {};
  for (const name of names) {
    const module = pgliteExtensionModule(name);
    if (!module) continue;
    const loaded = (await import(module.specifier)) as Record<string, unknown>;
    const extension = loaded[module.exportName];
    if (!extension) throw new Error(`${module.specifier} does not export ${module.exportName}`);
    extensions[module.exportName] = extension as Extension;
  }
  return extensions;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      extensions: { type: 'string', default: '' },
      'max-connections': { type: 'string', default: String(DEFAULT_MAX_CONNECTIONS) },
    },
  });
  let stopping: Promise<void> | undefined;
  let stop: () => Promise<void> = async () => undefined;
  const shutdown = () => {
    stopping ??= stop()
      .catch(() => undefined)
      .finally(() => {
        process.stdin.destroy();
        // PGlite's WASM runtime may hold handles after close(): nothing is left to flush, so end now.
        process.exit(0);
      });
  };
  // Registered first: a parent that ends while PGlite is still loading must not leave this process behind.
  process.stdin.on('end', shutdown).on('close', shutdown).on('error', shutdown).resume();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown);

  const names = values.extensions
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ extensions: await loadExtensions(names) });
  const server = new PGLiteSocketServer({ db, host: values.host, port: 0, maxConnections: Number(values['max-connections']) });
  stop = async () => {
    await server.stop();
    await db.close();
  };
  await server.start();
  const port = Number(/:(\d+)$/.exec(server.getServerConn())?.[1]);
  const { rows } = await db.query<{ version: string }>('SELECT version()');
  send({ port, version: rows[0]?.version ?? 'PostgreSQL' });
}

main().catch((error: unknown) => {
  send({ error: error instanceof Error ? error.message : String(error) });
  // As in shutdown: PGlite may hold handles; the message is written (stdout is a pipe, written synchronously).
  process.exit(1);
});
