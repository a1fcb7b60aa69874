import type { MigrationLanguage } from '../settings/settings';

/**
 * The text of a new migration, in the style of `migrations/`: a one-line header saying what it changes, typed `up`
 * and `down`. The example lines are comments, so a file created and migrated untouched changes nothing but the
 * ledger. node-pg-migrate loads all three kinds itself (`.ts` and `.js` through jiti, `.sql` by its section comments).
 */
export function renderMigrationTemplate(lang: MigrationLanguage, name: string): string {
  return TEMPLATES[lang](name);
}

const TEMPLATES: Record<MigrationLanguage, (name: string) => string> = {
  ts: (name) => `// ${name}: say in one line what this migration changes, e.g. "Creates the tags table".
import type { MigrationBuilder } from 'node-pg-migrate';

export const up = (pgm: MigrationBuilder): void => {
  // pgm.createTable('example', { id: 'id', name: { type: 'text', notNull: true } });
};

export const down = (pgm: MigrationBuilder): void => {
  // pgm.dropTable('example');
};
`,
  js: (name) => `// ${name}: say in one line what this migration changes, e.g. "Creates the tags table".

/**
 * @param {import('node-pg-migrate').MigrationBuilder} pgm
 * @returns {void}
 */
export const up = (pgm) => {
  // pgm.createTable('example', { id: 'id', name: { type: 'text', notNull: true } });
};

/**
 * @param {import('node-pg-migrate').MigrationBuilder} pgm
 * @returns {void}
 */
export const down = (pgm) => {
  // pgm.dropTable('example');
};
`,
  sql: (name) => `-- ${name}: say in one line what this migration changes, e.g. "Creates the tags table".
-- Below: the SQL that applies it (Up) and the SQL that rolls it back (Down). Keep both section comments.

-- Up Migration
-- CREATE TABLE example (id serial PRIMARY KEY, name text NOT NULL);

-- Down Migration
-- DROP TABLE example;
`,
};
