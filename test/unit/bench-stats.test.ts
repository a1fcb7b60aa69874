import { expect } from 'chai';
import type { BenchCase } from '../../bench/harness/case';
import { caseResult, formatReport, type ResultsDocument } from '../../bench/harness/report';
import { median, pairwiseRatios, percentile, summarize } from '../../bench/harness/stats';

const ratioCase: BenchCase = {
  id: 'ratio-case',
  number: 1,
  title: 'a ratio case',
  goal: { kind: 'ratio', max: 0.7 },
  run: async () => Promise.reject(new Error('not run')),
};
const msCase: BenchCase = {
  id: 'ms-case',
  number: 4,
  title: 'an absolute case',
  goal: { kind: 'ms', max: 150 },
  run: async () => Promise.reject(new Error('not run')),
};

describe('bench statistics', () => {
  it('takes the middle value of an odd count and the mean of the two middle values of an even one, whatever the order', () => {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([7])).to.equal(7);
    expect(() => median([])).to.throw('Expected at least one value, got none');
  });

  it('summarizes min, median and max and keeps the samples in the order they were taken', () => {
    expect(summarize([30, 10, 20, 50, 40])).to.deep.equal({ min: 10, median: 30, max: 50, samples: [30, 10, 20, 50, 40] });
  });

  it('divides each candidate by the baseline of its own pair', () => {
    expect(pairwiseRatios([100, 300, 200], [200, 300, 100])).to.deep.equal([0.5, 1, 2]);
    // The median of the pairwise ratios is not the ratio of the medians: a slow moment slows both sides of its pair.
    expect(median(pairwiseRatios([100, 300, 200], [200, 300, 100]))).to.equal(1);
  });

  it('refuses pairs that do not match up or a baseline of zero', () => {
    expect(() => pairwiseRatios([1, 2], [1])).to.throw('Expected as many baseline as candidate samples, got 1 and 2');
    expect(() => pairwiseRatios([1], [0])).to.throw('Expected baseline samples to be positive, got 0 at pair 1');
  });

  it('takes nearest-rank percentiles', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).to.equal(5);
    expect(percentile(values, 90)).to.equal(9);
    expect(percentile(values, 100)).to.equal(10);
  });
});

describe('bench results', () => {
  it('judges a ratio goal by the median of the pairwise ratios', () => {
    const result = caseResult({
      status: 'measured',
      benchCase: ratioCase,
      durationMs: 1_234.4,
      measurement: {
        candidate: { label: 'candidate', warmUp: [900], samples: [60, 70, 80, 90, 100] },
        baseline: { label: 'baseline', warmUp: [800], samples: [100, 100, 100, 100, 100] },
      },
    });
    expect(result.ratio).to.deep.equal({ min: 0.6, median: 0.8, max: 1, samples: [0.6, 0.7, 0.8, 0.9, 1] });
    expect(result.value).to.equal(0.8);
    expect(result.met).to.equal(false);
    expect(result.candidate).to.deep.equal({ label: 'candidate', min: 60, median: 80, max: 100, samples: [60, 70, 80, 90, 100], warmUp: [900] });
    expect(result.durationMs).to.equal(1_234);
  });

  it('judges an absolute goal by the candidate median, with no ratio when there is no baseline', () => {
    const result = caseResult({
      status: 'measured',
      benchCase: msCase,
      durationMs: 1,
      measurement: { candidate: { label: 'saves', warmUp: [], samples: [40, 160, 50] } },
    });
    expect(result.baseline).to.equal(null);
    expect(result.ratio).to.equal(null);
    expect(result.value).to.equal(50);
    expect(result.met).to.equal(true);
  });

  it('writes the same keys, in the same order, for a case that was not available', () => {
    const measured = caseResult({
      status: 'measured',
      benchCase: msCase,
      durationMs: 1,
      measurement: { candidate: { label: 'saves', warmUp: [], samples: [40] } },
    });
    const missing = caseResult({ status: 'not available', benchCase: msCase, durationMs: 1, reason: 'no `gulp watch` task' });
    expect(Object.keys(missing)).to.deep.equal(Object.keys(measured));
    expect(missing).to.include({ status: 'not available', reason: 'no `gulp watch` task', value: null, met: null, candidate: null });
  });

  it('prints "not available" in the table instead of a number, and "—" for a ratio without baseline', () => {
    const document: ResultsDocument = {
      version: 1,
      date: '2026-01-01T00:00:00.000Z',
      command: 'npm run bench',
      units: { time: 'ms', ratio: 'candidate / baseline' },
      settings: { pairs: 5, warmUpRuns: 1 },
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
      cases: [
        caseResult({ status: 'not available', benchCase: ratioCase, durationMs: 1, reason: 'no psql for the baseline' }),
        caseResult({
          status: 'measured',
          benchCase: msCase,
          durationMs: 1,
          measurement: { candidate: { label: 'saves', warmUp: [], samples: [40, 45, 1_500] } },
        }),
      ],
    };
    const lines = formatReport(document).split('\n');
    expect(lines).to.include('| 1 | a ratio case | not available: no psql for the baseline | — | — | ≤ 0.7 | — |');
    expect(lines).to.include('| 4 | an absolute case | 45 ms (40–1,500) | — | — | ≤ 150 ms | ✓ |');
  });
});
