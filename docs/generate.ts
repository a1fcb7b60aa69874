// Writes the command and flag tables of README.md and docs/ from the command table and the flag spec, between
// `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers. `npm run docs` writes them; `npm run docs -- --check`
// (and test/unit/docs.test.ts) fails when a file is not current.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS, COMMAND_IDS } from '../tasks/gulp/commands';
import { composeCommand, type AnyStep } from '../tasks/gulp/compose';
import { createContext } from '../tasks/gulp/context';
import { stepFactories } from '../tasks/gulp/step-factories';
import { FLAGS, FLAG_NAMES, flagDescription, flagSynopsis, type FlagName } from '../tasks/settings/flags';

const ROOT = path.resolve(__dirname, '..');

/** Each command's steps and flags, as composed (flags are the union of its steps'). */
export function commandOverview(): { id: string; name: string; description: string; steps: string[]; flags: FlagName[] }[] {
  const ctx = createContext({ logger: { info() {}, warn() {}, error() {} } });
  const steps = stepFactories(ctx);
  let composed: AnyStep[] = [];
  const recorder = { series: (...tasks: AnyStep[]) => ((composed = tasks), () => undefined) } as never;
  return COMMAND_IDS.map((id) => {
    const row = COMMANDS[id];
    const command = composeCommand(ctx, recorder, { name: row.name, description: row.description, steps: row.steps(steps) });
    const flags = FLAG_NAMES.filter((flag) => Object.keys(command.flags ?? {}).includes(flagSynopsis(flag)));
    return { id, name: row.name, description: row.description, steps: composed.map((step) => step.displayName), flags };
  });
}

const cell = (text: string) => text.replaceAll('|', '\\|');

export function commandTable(): string {
  const lines = ['| command | export | what it does | steps | flags |', '|---|---|---|---|---|'];
  for (const { id, name, description, steps, flags } of commandOverview()) {
    const flagList = flags.map((flag) => `\`${flagSynopsis(flag).split(' ')[0]}\``).join(' ');
    lines.push(`| \`gulp ${name}\` | \`${id}\` | ${cell(description)} | ${steps.join(' → ')} | ${flagList || '—'} |`);
  }
  return lines.join('\n');
}

export function flagTable(): string {
  const overview = commandOverview();
  const lines = ['| flag | what it does | variable | commands |', '|---|---|---|---|'];
  for (const name of FLAG_NAMES) {
    const spec = FLAGS[name];
    const commands = overview.filter((command) => command.flags.includes(name)).map((command) => command.name);
    lines.push(`| \`${cell(flagSynopsis(name))}\` | ${cell(flagDescription(name))} | ${'env' in spec ? `\`${spec.env}\`` : '—'} | ${commands.join(', ')} |`);
  }
  return lines.join('\n');
}

const TABLES: Record<string, () => string> = { commands: commandTable, flags: flagTable };
export const GENERATED_FILES = ['README.md', 'docs/commands.md', 'docs/configuration.md'];

/** `text` with every generated block replaced by its current content. */
export function regenerate(text: string): string {
  return text.replace(/(<!-- generated:(\w+) -->\n)[\s\S]*?(\n?<!-- \/generated:\2 -->)/g, (_block, open: string, name: string, close: string) => {
    const table = TABLES[name];
    if (!table) throw new Error(`unknown generated block ${name}`);
    return `${open}${table()}\n${close.replace(/^\n/, '')}`;
  });
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const file of GENERATED_FILES) {
    const full = path.join(ROOT, file);
    const text = readFileSync(full, 'utf8');
    const next = regenerate(text);
    if (next === text) continue;
    if (check) stale.push(file);
    else writeFileSync(full, next);
  }
  if (stale.length > 0) {
    console.error(`not current: ${stale.join(', ')}; run \`npm run docs\``);
    process.exitCode = 1;
  }
}
