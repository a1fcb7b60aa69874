import { expect } from 'chai';
import { Cleanups } from '../../tasks/util/cleanups';
import { withTeardown } from '../../tasks/gulp/with-teardown';

describe('Cleanups', () => {
  it('runs newest first, keeps going past a failure, rethrows the first failure, and runs each once', async () => {
    const cleanups = new Cleanups();
    const order: string[] = [];
    cleanups.add('temp dir', () => void order.push('temp dir'));
    cleanups.add('server', () => {
      order.push('server');
      throw new Error('server would not stop');
    });
    const removed = cleanups.add('never', () => void order.push('never'));
    removed();
    let failure: unknown;
    await cleanups.runAll().catch((error) => (failure = error));
    expect(order).to.deep.equal(['server', 'temp dir']);
    expect((failure as Error).message).to.equal('server would not stop');
    await cleanups.runAll();
    expect(order).to.deep.equal(['server', 'temp dir']);
  });
});

describe('withTeardown', () => {
  it('runs teardown after a failing body and reports the body error', async () => {
    const events: string[] = [];
    const task = withTeardown(
      async () => {
        events.push('body');
        throw new Error('migration failed');
      },
      (done) => {
        events.push('teardown');
        done(new Error('teardown failed too'));
      },
    );
    let failure: unknown;
    await task().catch((error) => (failure = error));
    expect(events).to.deep.equal(['body', 'teardown']);
    expect((failure as Error).message).to.equal('migration failed');
  });

  it('reports a teardown failure when the body succeeded', async () => {
    const task = withTeardown(
      async () => undefined,
      async () => Promise.reject(new Error('could not stop')),
    );
    let failure: unknown;
    await task().catch((error) => (failure = error));
    expect((failure as Error).message).to.equal('could not stop');
  });
});
