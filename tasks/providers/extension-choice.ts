import { messageOf } from '../util/errors';
import { missingLocalExtensions } from './local-extensions';
import { requiredExtensions } from './migration-extensions';
import { serverIdentity } from './os-user';
import { findPgBinaries } from './pg-binaries';
import { pgliteAvailableExtensions } from './pglite-extensions';
import type { DatabaseSettings } from './types';

/** What the extensions the migrations create mean for `auto` when no container runtime answers. */
export interface ExtensionChoice {
  /** True: PGlite has what the local binaries lack. False: stay with the local binaries (the note says why). */
  pglite: boolean;
  /** Part of the one-line reason the choice is logged with. */
  reason: string;
}

/**
 * Reads which extensions the migrations create and checks them against the local binaries the embedded provider
 * would run (their `extension/<name>.control` files): when those lack one that PGlite ships, or no usable binaries
 * exist, PGlite is the choice. Undefined when nothing changes the usual choice (no migration creates an extension,
 * the binaries have them all, or we cannot tell); then only the migrations folder was read.
 */
export async function extensionChoice(settings: DatabaseSettings): Promise<ExtensionChoice | undefined> {
  // DB_PG_BIN / DB_PG_VERSION choose the local binaries: never trade them silently for another server version.
  if (settings.provider.pgBin !== undefined || settings.provider.pgVersion !== undefined) return undefined;
  const required = await requiredExtensions(settings.source.migrationsDir);
  if (required.length === 0) return undefined;
  const names = required.map((extension) => extension.name);
  const pglite = pgliteAvailableExtensions();
  const pgliteHasAll = names.every((name) => pglite.has(name));

  let binaries;
  try {
    binaries = await findPgBinaries(settings.provider.pgBin, await serverIdentity(settings.provider.osUser), settings.provider.pgVersion);
  } catch (error) {
    if (!pgliteHasAll) return undefined;
    const why = messageOf(error)
      .split('\n  hint:')[0]!
      .replace(/\s*\n\s*(- )?/g, ' ');
    return { pglite: true, reason: `the migrations need ${list(names)}, and no local PostgreSQL binaries are usable (${why}); using PGlite` };
  }
  const missing = await missingLocalExtensions(binaries, names);
  if (!missing || missing.length === 0) return undefined;
  const local = `the local PostgreSQL ${binaries.version} binaries (${binaries.source})`;
  if (pgliteHasAll) {
    return { pglite: true, reason: `the migrations need ${list(missing)}, which ${local} lack; using PGlite, which has ${missing.length > 1 ? 'them' : 'it'}` };
  }
  const notInPglite = names.filter((name) => !pglite.has(name));
  return {
    pglite: false,
    reason: `the migrations need ${list(names)}, and neither ${local} (lacking ${missing.join(', ')}) nor PGlite (lacking ${notInPglite.join(', ')}) have them all: using the local binaries (a container image with all of them would work)`,
  };
}

function list(names: readonly string[]): string {
  return `${names.length > 1 ? 'extensions' : 'extension'} ${names.join(', ')}`;
}
