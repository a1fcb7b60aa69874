import { expect } from 'chai';
import { classifyConnectionError } from '../../tasks/db/connection-errors';

const target = { host: 'db.local', port: 5432, database: 'contenthub', user: 'contentuser' };
const error = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('classifyConnectionError', () => {
  it('tells refused connections apart and keeps waiting on them', () => {
    const failure = classifyConnectionError(error('ECONNREFUSED'), target);
    expect(failure).to.include({ kind: 'refused', transient: true, message: 'connection refused at db.local:5432' });
    expect(failure.hint).to.match(/gulp db:start/);
  });

  it('stops at once on a wrong password, a missing database and an unknown host, each with its own hint', () => {
    const auth = classifyConnectionError(error('28P01'), target);
    expect(auth).to.include({ transient: false, message: 'password authentication failed for user "contentuser" at db.local:5432' });
    expect(auth.hint).to.match(/check DB_PASSWORD .*recreate the local database/);
    expect(classifyConnectionError(error('3D000'), target)).to.include({ transient: false, message: 'database "contenthub" does not exist at db.local:5432' });
    expect(classifyConnectionError(error('ENOTFOUND'), target)).to.include({ transient: false, message: 'unknown host "db.local"' });
  });

  it('stops at once on a damaged database (data_corrupted, index_corrupted): waiting cannot mend a page', () => {
    for (const code of ['XX001', 'XX002']) {
      const failure = classifyConnectionError(error(code, 'invalid page in block 0 of relation "base/16384/1259"'), target);
      expect(failure).to.include({
        kind: 'damaged',
        transient: false,
        message: 'the database "contenthub" at db.local:5432 is damaged: invalid page in block 0 of relation "base/16384/1259"',
      });
      expect(failure.hint).to.match(/gulp db:stop.*pg_amcheck/);
    }
  });

  it('treats a server still starting up and timeouts as worth waiting for', () => {
    expect(classifyConnectionError(error('57P03'), target).transient).to.equal(true);
    expect(classifyConnectionError(new Error('Connection terminated due to connection timeout'), target).kind).to.equal('timeout');
  });
});
