import { expect } from 'chai';
import { poll, type Clock } from '../../tasks/util/poll';

/** A clock whose sleep only moves time forward, and remembers each pause. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return { sleeps, now: () => now, sleep: async (ms) => void (sleeps.push(ms), (now += ms)) };
}

describe('poll', () => {
  it('returns the first success and how many attempts it took', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await poll(async () => (++calls < 3 ? Promise.reject(new Error('not yet')) : 'ready'), { timeoutMs: 1_000, clock });
    expect(result).to.deep.equal({ ok: true, value: 'ready', attempts: 3 });
    expect(clock.sleeps).to.deep.equal([20, 30]);
  });

  it('gives up at the deadline with the last error, never sleeping past it', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await poll(() => Promise.reject(new Error(`failure ${++calls}`)), { timeoutMs: 1_000, clock });
    expect(result.ok).to.equal(false);
    expect(clock.now()).to.equal(1_000);
    expect(Math.max(...clock.sleeps)).to.equal(250);
    expect(result.ok === false && (result.lastError as Error).message).to.equal(`failure ${calls}`);
  });

  it('gives each attempt the time left, so attempts bounded by it end by the deadline (waitDb --timeout 6 took 10 s)', async () => {
    const clock = fakeClock();
    const given: number[] = [];
    // Each attempt is a connection that times out: it lasts as long as it is allowed to, up to 5 s.
    const attempt = async (leftMs: number) => {
      given.push(leftMs);
      await clock.sleep(Math.min(5_000, leftMs));
      throw new Error('connection timed out');
    };
    const result = await poll(attempt, { timeoutMs: 6_000, clock });
    expect(result.ok).to.equal(false);
    expect(clock.now()).to.equal(6_000);
    expect(given).to.deep.equal([6_000, 980]);
  });

  it('stops at once on an error the caller calls fatal', async () => {
    const clock = fakeClock();
    const result = await poll(
      () => Promise.reject(new Error('wrong password')),
      { timeoutMs: 30_000, clock },
      () => true,
    );
    expect(result).to.include({ ok: false, attempts: 1 });
    expect(clock.sleeps).to.deep.equal([]);
  });
});
