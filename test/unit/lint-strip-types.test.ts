import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMigrationModule, type LoadResult } from '../../tasks/lint/load-migration';
import { stripTypes } from '../../tasks/lint/strip-types';

// The linter loads a TypeScript migration that needs nothing at run time with its types blanked out (tasks/lint/
// strip-types.ts) instead of through jiti: what it loads must be what jiti loads, lines included.
describe('loading TS migrations with their types stripped (the linter)', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'pgmt-strip-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const shape = (result: LoadResult) =>
    result.ok
      ? { ok: true, exports: Object.fromEntries(Object.entries(result.exports).map(([key, value]) => [key, typeof value === 'function' ? 'function' : value])) }
      : result;

  const SAMPLES: Record<string, string> = {
    'arrow.ts': [
      "import type { MigrationBuilder } from 'node-pg-migrate';",
      "import { ColumnDefinitions } from 'node-pg-migrate';",
      '',
      'export const shorthands: ColumnDefinitions | undefined = undefined;',
      'interface Row { id: number }',
      'type Name = string;',
      'const table = (name?: Name): string => name ?? (undefined as unknown as Row[]).length.toString();',
      'export const up = (pgm: MigrationBuilder): void => {',
      "  pgm.createTable(table('t')!, { id: 'id' } satisfies ColumnDefinitions);",
      '};',
      'export function down(pgm: MigrationBuilder): void {',
      "  pgm.dropTable('t');",
      '}',
      'export const label = `x`, count: number = 2;',
      '',
    ].join('\n'),
    'throws.ts': [
      "import type { MigrationBuilder } from 'node-pg-migrate';",
      '',
      'const fail = (): never => {',
      "  throw new Error('boom');",
      '};',
      'fail();',
      'export const up = (pgm: MigrationBuilder) => pgm.sql("SELECT 1");',
      '',
    ].join('\n'),
  };

  for (const [name, text] of Object.entries(SAMPLES)) {
    it(`loads ${name} as jiti does: the same exports, or the same error at the same line`, async () => {
      const file = write(`1700000000000_${name}`, text);
      expect(stripTypes(file, text), 'takes the fast path').to.be.a('string');
      const stripped = await loadMigrationModule(file, { text, stripTypes: true });
      const jiti = await loadMigrationModule(file);
      expect(shape(stripped)).to.deep.equal(shape(jiti));
    });
  }

  it('keeps every line where it is (stack traces locate the builder calls)', () => {
    const text = SAMPLES['arrow.ts']!;
    const code = stripTypes('/x/1_a.ts', text)!;
    expect(
      code
        .split('\n')
        .slice(0, text.split('\n').length - 1)
        .map((line) => line.trimStart().slice(0, 12)),
    ).to.deep.equal(
      text
        .split('\n')
        .slice(0, -1)
        .map((line, index) =>
          index < 2 || /^(interface|type) /.test(line)
            ? ''
            : line
                .trimStart()
                .replace(/^export /, '')
                .slice(0, 12),
        )
        .map((line, index) => (index === 0 ? '"use strict"' : line)),
    );
  });

  it('leaves to jiti what needs more than blanking: value imports, require, enums, export default, classes, syntax errors', () => {
    const cases = [
      "import { PgLiteral } from 'node-pg-migrate';\nexport const up = () => PgLiteral;\n",
      "const x = require('x');\nexport const up = () => x;\n",
      'enum Kind { A }\nexport const up = () => Kind.A;\n',
      'export default { up: () => undefined };\n',
      'class A {}\nexport const up = () => new A();\n',
      'export const up = (pgm => {\n',
      'exports.up = () => undefined;\n',
      "const up = async () => { await import('x'); };\nexport { up };\n",
    ];
    for (const text of cases) expect(stripTypes('/x/1_a.ts', text), text).to.equal(undefined);
    expect(stripTypes('/x/1_a.js', 'export const up = () => undefined;\n'), 'JS goes through jiti').to.equal(undefined);
  });
});
