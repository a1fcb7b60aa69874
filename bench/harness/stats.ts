/** min / median / max of a series of timings (ms), with the samples in the order they were taken. */
export interface Summary {
  min: number;
  median: number;
  max: number;
  samples: number[];
}

/** The median: the middle value, or the mean of the two middle values of an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('Expected at least one value, got none');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('Expected at least one sample, got none');
  return { min: Math.min(...samples), median: median(samples), max: Math.max(...samples), samples: [...samples] };
}

/**
 * candidate[i] / baseline[i] for each pair, in order. Pairs are what makes the ratio robust: both sides of a pair ran
 * back to back, so a slow moment of the machine slows both.
 */
export function pairwiseRatios(candidate: readonly number[], baseline: readonly number[]): number[] {
  if (candidate.length !== baseline.length) throw new Error(`Expected as many baseline as candidate samples, got ${baseline.length} and ${candidate.length}`);
  return candidate.map((value, index) => {
    const base = baseline[index]!;
    if (!(base > 0)) throw new Error(`Expected baseline samples to be positive, got ${base} at pair ${index + 1}`);
    return value / base;
  });
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('Expected at least one value, got none');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
