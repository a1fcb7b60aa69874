import { expect } from 'chai';
import { extensionsIn, requiredExtensions } from '../../tasks/providers/migration-extensions';
import { FIXTURES } from '../support/project';
import path from 'node:path';

describe('extensions the migrations create (read from their text)', () => {
  it('finds CREATE EXTENSION in SQL, quoted or bare, with or without IF NOT EXISTS', () => {
    const sql = 'CREATE EXTENSION IF NOT EXISTS "uuid-ossp";\ncreate extension Pg_Trgm;\nCREATE EXTENSION vector SCHEMA public;';
    expect(extensionsIn(sql, 'sql')).to.deep.equal(['uuid-ossp', 'pg_trgm', 'vector']);
  });

  it('ignores commented-out statements and other statements about extensions', () => {
    const sql = '-- CREATE EXTENSION postgis;\n/* CREATE EXTENSION hstore; */\nDROP EXTENSION vector;\nALTER EXTENSION vector UPDATE;';
    expect(extensionsIn(sql, 'sql')).to.deep.equal([]);
  });

  it('finds pgm.createExtension calls (a name or a list) and CREATE EXTENSION in pgm.sql strings', () => {
    const ts = [
      "pgm.createExtension('vector', { ifNotExists: true });",
      'pgm.createExtension(["uuid-ossp", \'pg_trgm\']);',
      'pgm.sql("CREATE EXTENSION IF NOT EXISTS \\"citext\\"");',
      "// pgm.createExtension('postgis');",
    ].join('\n');
    expect(extensionsIn(ts, 'script')).to.deep.equal(['citext', 'vector', 'uuid-ossp', 'pg_trgm']);
  });

  it('lists each extension once with the first file that creates it, in folder order', async () => {
    expect(await requiredExtensions(path.join(FIXTURES, 'guide-sql-down'))).to.deep.equal([
      { name: 'uuid-ossp', file: '1732400000000_enable_extensions.sql' },
      { name: 'pg_trgm', file: '1732400000000_enable_extensions.sql' },
      { name: 'vector', file: '1732400000000_enable_extensions.sql' },
    ]);
    expect(await requiredExtensions(path.join(FIXTURES, 'no-such-folder'))).to.deep.equal([]);
  });
});
