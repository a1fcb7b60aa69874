import { expect } from 'chai';
import { measureRounds, measureWithPeers, type BenchCase, type BenchRun, type Side } from '../../bench/harness/case';
import { runProcess } from '../../bench/harness/processes';
import { caseResult, formatReport, type ResultsDocument } from '../../bench/harness/report';

const migrateCase: BenchCase = {
  id: 'migrate-1000',
  number: 3,
  title: 'migrate ÷ psql',
  goal: { kind: 'ratio', max: 1.5 },
  run: async () => Promise.reject(new Error('not run')),
};

/** A BenchRun for harness tests: `pairs` rounds, progress lines collected. */
function fakeBench(pairs: number, lines: string[] = []): BenchRun {
  const unused = () => {
    throw new Error('not used by this test');
  };
  return { pairs, log: (line) => void lines.push(line), tempDir: unused, onCleanup: unused, server: unused, postgres: unused, gulpTasks: unused };
}

/** A side that records when it ran and returns the next of `times` (ms, or ms with CPU). */
function side(name: string, order: string[], times: (number | { ms: number; cpuMs?: number })[]): Side {
  let run = 0;
  return {
    name,
    label: `${name} label`,
    run: async ({ warmUp }) => {
      order.push(warmUp ? `${name} warm-up` : name);
      return times[run++]!;
    },
  };
}

function document(cases: ResultsDocument['cases']): ResultsDocument {
  return {
    version: 1,
    date: '2026-01-01T00:00:00.000Z',
    command: 'npm run bench',
    units: { time: 'ms', ratio: 'candidate / baseline' },
    settings: { pairs: 3, warmUpRuns: 1 },
    machine: {
      cpuModel: 'CPU',
      cores: 2,
      totalMemoryMiB: 2_048,
      os: 'Linux',
      kernel: 'Linux 6',
      arch: 'x64',
      node: 'v20',
      postgres: null,
      gitCommit: null,
      loadAverageAtStart: [0.5, 0.4, 0.3],
    },
    cases,
  };
}

describe('bench peers', () => {
  it('runs every side once per round, each round starting one side further on, warm-ups first', async () => {
    const order: string[] = [];
    const lines: string[] = [];
    const timings = await measureRounds(fakeBench(3, lines), [
      side('candidate', order, [9, 1, 2, 3]),
      side('baseline', order, [9, 4, 5, 6]),
      side('peer', order, [9, 7, 8, 9]),
    ]);
    expect(order).to.deep.equal([
      'candidate warm-up',
      'baseline warm-up',
      'peer warm-up',
      ...['candidate', 'baseline', 'peer'],
      ...['baseline', 'peer', 'candidate'],
      ...['peer', 'candidate', 'baseline'],
    ]);
    // Sample i of every side comes from round i, whatever the order inside the round.
    expect(timings.map((timing) => timing.samples)).to.deep.equal([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(lines.at(-1)).to.equal('round 3/3: candidate 3 ms, baseline 6 ms, peer 9 ms');
  });

  it('keeps the CPU times of a side only when every measured run had one', async () => {
    const order: string[] = [];
    const [withCpu, partly] = await measureRounds(fakeBench(2), [
      side('candidate', order, [{ ms: 50 }, { ms: 10, cpuMs: 7 }, { ms: 20, cpuMs: 8 }]),
      side('peer', order, [5, { ms: 30, cpuMs: 1 }, 40]),
    ]);
    expect(withCpu!.cpu).to.deep.equal([7, 8]);
    expect(partly!.cpu).to.equal(undefined);
  });

  it('gives each peer its own row, ratio and goal, and a row saying "not available" for a tool that is missing', async () => {
    const order: string[] = [];
    const measurement = await measureWithPeers(fakeBench(3), {
      candidate: side('candidate', order, [0, { ms: 80, cpuMs: 40 }, { ms: 90, cpuMs: 45 }, { ms: 100, cpuMs: 50 }]),
      baseline: side('baseline', order, [0, 40, 45, 50]),
      peers: [
        {
          title: 'migrate ÷ node-pg-migrate CLI',
          goal: { kind: 'ratio', max: 0.8 },
          side: side('cli', order, [0, { ms: 100, cpuMs: 20 }, { ms: 100, cpuMs: 30 }, { ms: 100, cpuMs: 25 }]),
        },
        { title: 'migrate ÷ dbmate', goal: { kind: 'ratio', max: 0.8 }, missing: '@dbmate/linux-x64 is not installed' },
        { title: 'migrate ÷ no goal', side: side('other', order, [0, 160, 180, 200]) },
      ],
    });
    const result = caseResult({ status: 'measured', benchCase: migrateCase, durationMs: 1, measurement });
    expect(result.ratio?.median).to.equal(2);
    expect(result.cpu).to.deep.equal({ candidate: { min: 40, median: 45, max: 50, samples: [40, 45, 50] }, baseline: null });
    const [cli, dbmate, other] = result.peers;
    expect(cli).to.include({ row: '3a', status: 'measured', value: 0.9, met: false });
    expect(cli!.ratio).to.deep.equal({ min: 0.8, median: 0.9, max: 1, samples: [0.8, 0.9, 1] });
    expect(cli!.cpu.ratio).to.equal(2);
    expect(dbmate).to.include({ row: '3b', status: 'not available', reason: '@dbmate/linux-x64 is not installed', value: null, met: null });
    expect(Object.keys(dbmate!)).to.deep.equal(Object.keys(cli!));
    expect(other).to.include({ row: '3c', value: null, met: null, goal: null });
    expect(other!.ratio?.median).to.equal(0.5);

    const lines = formatReport(document([result])).split('\n');
    expect(lines).to.include('| 3a | migrate ÷ node-pg-migrate CLI | 90 ms (80–100) | 100 ms (100–100) | 0.90 | ≤ 0.8 | ✗ |');
    expect(lines).to.include('| 3b | migrate ÷ dbmate | not available: @dbmate/linux-x64 is not installed | — | — | ≤ 0.8 | — |');
    expect(lines).to.include('| 3c | migrate ÷ no goal | 90 ms (80–100) | 180 ms (160–200) | 0.50 | — | — |');
    expect(lines).to.include('   CPU time (user + sys, median): candidate 45 ms, peer 25 ms, ratio 2.00 (median of rounds).');
  });

  it('compares the part of the candidate a case names with the peers', async () => {
    const order: string[] = [];
    const step = { label: 'the migrate step', warmUp: [0], samples: [30, 40] };
    const measurement = await measureWithPeers(fakeBench(2), {
      candidate: side('candidate', order, [0, 100, 100]),
      peers: [{ title: 'step ÷ peer', side: side('peer', order, [0, 60, 40]) }],
      peerCandidate: () => step,
    });
    expect(measurement.baseline).to.equal(undefined);
    const result = caseResult({ status: 'measured', benchCase: migrateCase, durationMs: 1, measurement });
    expect(result.peers[0]!.candidate?.label).to.equal('the migrate step');
    expect(result.peers[0]!.ratio?.samples).to.deep.equal([0.5, 1]);
  });

  it("takes a child's CPU time (user + sys) from the system where it can", async function () {
    if (process.platform !== 'linux') this.skip();
    const result = await runProcess(process.execPath, ['-e', 'let x = 0; for (let i = 0; i < 1e6; i += 1) x += i;'], { cwd: process.cwd(), env: {} });
    expect(result.code).to.equal(0);
    expect(result.cpuMs).to.be.a('number').and.at.least(0);
  });
});
