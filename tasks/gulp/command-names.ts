import type { Logger } from '../util/logger';

/** `gulp migrate:status`, with or without backticks: how every message names a command to run. */
const COMMAND_REFERENCE = /\bgulp ([a-z][\w:-]*)/g;

/**
 * The names a project registered the commands under, when they differ from the canonical ones (a prefix, renamed
 * commands). Messages throughout the library name commands canonically (`gulp migrate:status --accept`); the adapter
 * rewrites those references on their way out, so a hint names the command the user can actually run.
 */
export class CommandNames {
  readonly #registered: ReadonlyMap<string, string>;

  /** @param registered canonical name → registered name, e.g. `{ 'migrate:local': 'db:migrate:local' }`. */
  constructor(registered: Readonly<Record<string, string>> = {}) {
    this.#registered = new Map(Object.entries(registered).filter(([canonical, name]) => canonical !== name));
  }

  get isIdentity(): boolean {
    return this.#registered.size === 0;
  }

  /** The name a canonical command is registered under. */
  of(canonical: string): string {
    return this.#registered.get(canonical) ?? canonical;
  }

  /** `text` with each `gulp <canonical name>` naming the registered command instead. */
  rename(text: string): string {
    if (this.isIdentity) return text;
    return text.replace(COMMAND_REFERENCE, (reference, name: string) => {
      const registered = this.#registered.get(name);
      return registered ? `gulp ${registered}` : reference;
    });
  }

  /** A logger that renames command references in every message before writing it. */
  renamingLogger(inner: Logger): Logger {
    const wrapped: Logger = {
      info: (message) => inner.info(this.rename(message)),
      warn: (message) => inner.warn(this.rename(message)),
      error: (message) => inner.error(this.rename(message)),
    };
    if (inner.debug) wrapped.debug = (message) => inner.debug!(this.rename(message));
    return wrapped;
  }
}
