import { expect } from 'chai';
import { PG_MIGRATE_LOCK_ID } from '../../tasks/engine/run-migrations';

describe('run-migrations', () => {
  it("takes node-pg-migrate's own advisory lock key, without loading its runner", async () => {
    const library = await import('node-pg-migrate/runner');
    expect(PG_MIGRATE_LOCK_ID).to.equal(library.PG_MIGRATE_LOCK_ID);
  });
});
