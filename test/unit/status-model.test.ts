import { expect } from 'chai';
import {
  classifyMigrations,
  EXIT_DRIFT,
  EXIT_PENDING,
  stateOf,
  statusExitCode,
  summarize,
  summaryLine,
  type FileEntry,
  type LedgerEntry,
  type StatusSummary,
} from '../../tasks/engine/status-model';

/** node-pg-migrate's own order, as status uses it. */
let compareNames: (a: string, b: string) => number;
before(async () => {
  const { compareMigrationFileNames } = await import('node-pg-migrate/utils/comparators');
  compareNames = (a, b) => compareMigrationFileNames(a, b);
});

const file = (name: string, current = `sha-${name}`): FileEntry => ({ name, file: `${name}.sql`, current });
const ran = (name: string, recorded?: string): LedgerEntry => ({ name, runOn: '2026-01-01T00:00:00.000Z', ...(recorded ? { recorded } : {}) });
const states = (rows: { name: string; state: string }[]) => rows.map(({ name, state }) => `${name} ${state}`);
const empty = (): StatusSummary => ({ applied: 0, pending: 0, 'out of order': 0, missing: 0, edited: 0, 'no checksum': 0 });

describe('migrate:status classification', () => {
  it('gives each state from what is known about one migration', () => {
    const base = { applied: true, onDisk: true, recorded: 'a', current: 'a', olderThanApplied: false };
    expect(stateOf(base)).to.equal('applied');
    expect(stateOf({ ...base, current: 'b' })).to.equal('edited');
    expect(stateOf({ ...base, recorded: null })).to.equal('no checksum');
    expect(stateOf({ ...base, onDisk: false, current: null })).to.equal('missing');
    expect(stateOf({ ...base, applied: false, recorded: null })).to.equal('pending');
    expect(stateOf({ ...base, applied: false, recorded: null, olderThanApplied: true })).to.equal('out of order');
  });

  it('merges folder and ledger in node-pg-migrate order, placing a deleted migration where its name sorts', () => {
    const rows = classifyMigrations({
      files: [file('1_a'), file('2_late'), file('3_b', 'edited'), file('5_d'), file('6_e'), file('7_new')],
      ledger: [ran('1_a', 'sha-1_a'), ran('3_b', 'sha-3_b'), ran('4_c', 'sha-4_c'), ran('5_d', 'sha-5_d'), ran('6_e')],
      compareNames,
    });
    expect(states(rows)).to.deep.equal(['1_a applied', '2_late out of order', '3_b edited', '4_c missing', '5_d applied', '6_e no checksum', '7_new pending']);
    expect(rows[3]).to.deep.equal({
      name: '4_c',
      file: null,
      state: 'missing',
      runOn: '2026-01-01T00:00:00.000Z',
      checksum: { recorded: 'sha-4_c', current: null },
    });
    expect(rows[6]).to.deep.equal({ name: '7_new', file: '7_new.sql', state: 'pending', runOn: null, checksum: { recorded: null, current: 'sha-7_new' } });
  });

  it('orders by numeric prefix, not by text (node-pg-migrate compares numbers)', () => {
    const rows = classifyMigrations({ files: [file('9_nine'), file('10_ten')], ledger: [ran('100_gone', 'x')], compareNames });
    expect(states(rows)).to.deep.equal(['9_nine out of order', '10_ten out of order', '100_gone missing']);
  });

  it('counts a pending migration older than a deleted applied one as out of order', () => {
    const rows = classifyMigrations({ files: [file('1_a'), file('2_new')], ledger: [ran('1_a', 'sha-1_a'), ran('3_gone', 'x')], compareNames });
    expect(states(rows)).to.deep.equal(['1_a applied', '2_new out of order', '3_gone missing']);
  });

  it('puts ledger names without a numeric prefix last instead of failing', () => {
    const rows = classifyMigrations({ files: [file('1_a')], ledger: [ran('legacy'), ran('1_a', 'sha-1_a')], compareNames });
    expect(states(rows)).to.deep.equal(['1_a applied', 'legacy missing']);
  });

  it('shows everything as pending when nothing is applied (no ledger table)', () => {
    const rows = classifyMigrations({ files: [file('1_a'), file('2_b')], ledger: [], compareNames });
    expect(states(rows)).to.deep.equal(['1_a pending', '2_b pending']);
  });

  describe('exit status bitmask', () => {
    it('is 0 when clean, and "no checksum" is not drift', () => {
      expect(statusExitCode({ ...empty(), applied: 3, 'no checksum': 2 })).to.equal(0);
      expect(statusExitCode(empty())).to.equal(0);
    });

    it('is 2 for pending, 4 for each kind of drift, 6 for both (1 is left to gulp: the task failed)', () => {
      expect([EXIT_PENDING, EXIT_DRIFT]).to.deep.equal([2, 4]);
      expect(statusExitCode({ ...empty(), pending: 1 })).to.equal(2);
      expect(statusExitCode({ ...empty(), missing: 1 })).to.equal(4);
      expect(statusExitCode({ ...empty(), edited: 1 })).to.equal(4);
      expect(statusExitCode({ ...empty(), 'out of order': 1 })).to.equal(4);
      expect(statusExitCode({ ...empty(), pending: 4, edited: 1 })).to.equal(6);
    });

    it('counts a file that stops node-pg-migrate as drift', () => {
      expect(statusExitCode({ ...empty(), applied: 1 }, { blockingFiles: 1 })).to.equal(4);
    });
  });

  it('summarises the non-zero states in a fixed order', () => {
    const rows = classifyMigrations({
      files: [file('1_a'), file('2_b'), file('3_c', 'changed'), file('4_d')],
      ledger: [ran('1_a', 'sha-1_a'), ran('2_b', 'sha-2_b'), ran('3_c', 'sha-3_c')],
      compareNames,
    });
    expect(summaryLine(summarize(rows))).to.equal('2 applied, 1 pending, 1 edited');
    expect(summaryLine(empty())).to.equal('no migrations');
  });
});
