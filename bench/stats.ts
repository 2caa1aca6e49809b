/** Timing helpers for benchmarks: medians of repeated runs. */

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median seconds per call of `fn`, over `runs` runs of `reps` calls each, after a warm-up. */
export async function timeIt(fn: () => unknown, reps: number, runs = 7): Promise<number> {
  for (let i = 0; i < Math.max(1, reps >> 2); i++) await fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9 / reps);
  }
  return median(times);
}

export function fmt(x: number, digits = 1): string {
  return x.toFixed(digits).padStart(8);
}
