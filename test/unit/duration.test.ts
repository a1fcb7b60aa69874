import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../../tasks/settings/settings';
import { formatDuration, parseDuration } from '../../tasks/settings/duration';
import { TaskError } from '../../tasks/util/errors';

describe('parseDuration', () => {
  const ms = (text: string) => {
    const parsed = parseDuration('--lock-timeout', text);
    return parsed.ok ? parsed.ms : parsed.problem;
  };

  it('reads PostgreSQL-style values and plain milliseconds', () => {
    expect(['5s', '500ms', '2min', '1h', '1d', '1.5s', '5 s', '250', '0', '1500us'].map(ms)).to.deep.equal([
      5_000, 500, 120_000, 3_600_000, 86_400_000, 1_500, 5_000, 250, 0, 2,
    ]);
  });

  it('refuses anything else, saying what it expects', () => {
    const expected = (text: string) =>
      `--lock-timeout must be a duration such as 5s, 500ms, 2min or a number of milliseconds (units: us, ms, s, min, h, d), got "${text}"`;
    for (const text of ['5 seconds', '5m', '-1s', '', 's', '5S', '1e3']) expect(ms(text)).to.equal(expected(text));
    expect(ms('0.1us')).to.equal('--lock-timeout must be at least 1ms (or 0 for no timeout), got "0.1us"');
    expect(ms('25d')).to.equal('--lock-timeout must be at most 2147483647ms (~24 days; 0 means no timeout), got "25d"');
  });

  it('formats durations for messages', () => {
    expect([500, 1_000, 1_500, 30_000, 90_000, 120_000, 7_200_000].map(formatDuration)).to.deep.equal([
      '500 ms',
      '1 s',
      '1.5 s',
      '30 s',
      '90 s',
      '2 min',
      '2 h',
    ]);
  });
});

describe('resolveSettings: lock flags', () => {
  let cwd: string;
  beforeEach(() => (cwd = mkdtempSync(path.join(os.tmpdir(), 'lock-config-'))));
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));
  const env = { DATABASE_URL: 'postgresql://app:pw@db.example.com:6000/hub' };
  const resolve = (argv: string[], extra: Record<string, string> = {}) => resolveSettings({ env: { ...env, ...extra }, argv, cwd, startsDatabase: false });
  const pick = (argv: string[], extra: Record<string, string> = {}) => {
    const { lockTimeoutMs, statementTimeoutMs, timeoutSources, lockMode } = resolve(argv, extra).run;
    return { lockTimeoutMs, statementTimeoutMs, timeoutSources, lockMode };
  };

  it('defaults: no timeouts set (the server decides), lock mode fail', () => {
    expect(pick([])).to.deep.equal({
      lockTimeoutMs: undefined,
      statementTimeoutMs: undefined,
      timeoutSources: { lockTimeout: undefined, statementTimeout: undefined },
      lockMode: 'fail',
    });
  });

  it('reads the flags, and the variables when a flag is not given (the flag wins)', () => {
    expect(pick(['--lock-timeout', '5s', '--statement-timeout=2min', '--lock-mode', 'wait'])).to.deep.equal({
      lockTimeoutMs: 5_000,
      statementTimeoutMs: 120_000,
      timeoutSources: { lockTimeout: '--lock-timeout', statementTimeout: '--statement-timeout' },
      lockMode: 'wait',
    });
    expect(pick(['--lock-timeout', '1s'], { DB_LOCK_TIMEOUT: '9s', DB_STATEMENT_TIMEOUT: '500', DB_LOCK_MODE: 'wait' })).to.deep.equal({
      lockTimeoutMs: 1_000,
      statementTimeoutMs: 500,
      timeoutSources: { lockTimeout: '--lock-timeout', statementTimeout: 'DB_STATEMENT_TIMEOUT' },
      lockMode: 'wait',
    });
  });

  it('reports every bad value at once, with the hint for flags and for the environment', () => {
    let error: unknown;
    try {
      resolve(['--lock-timeout', 'soon', '--lock-mode', 'sometimes'], { DB_STATEMENT_TIMEOUT: '5 minutes' });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(TaskError);
    expect((error as TaskError).message).to.equal(
      '3 configuration problems:\n' +
        '  - --lock-mode must be one of: fail, wait (got "sometimes")\n' +
        '  - --lock-timeout must be a duration such as 5s, 500ms, 2min or a number of milliseconds (units: us, ms, s, min, h, d), got "soon"\n' +
        '  - DB_STATEMENT_TIMEOUT must be a duration such as 5s, 500ms, 2min or a number of milliseconds (units: us, ms, s, min, h, d), got "5 minutes"\n' +
        '  hint: fix the environment or .env (see .env.example); fix the flag (`gulp --tasks` lists every task with its flags); then run the command again',
    );
  });

  it('suggests the flag for a typo', () => {
    expect(() => resolve(['--lock-timout', '5s'])).to.throw(TaskError, 'unknown flag --lock-timout (did you mean --lock-timeout?)');
  });
});
