/**
 * A GridSearchCV-style helper (JavaScript has no scikit-learn): every
 * combination of `paramGrid`, scored by k-fold cross-validation on clones of
 * a KerasClassifier or KerasRegressor, then the best refitted on all data.
 * Folds are scikit-learn's KFold: contiguous, the first n % k folds one
 * sample larger, optionally after a seeded shuffle.
 */
import { sizeOf } from '../../ir/dtype.js';
import { Tensor } from '../tensor.js';
import { NumpyRandomState } from '../datasets/numpy_random.js';
import type { Params } from './scikit_learn.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export interface Estimator {
  clone(): Estimator;
  setParams(params: Params): Estimator;
  fit(x: Tensor, y: Tensor, args?: Params): Promise<unknown>;
  score(x: Tensor, y: Tensor, args?: Params): Promise<number>;
}

/** [train indices, test indices] of each fold. */
export function kFold(n: number, k: number, args: { shuffle?: boolean; seed?: number } = {}): [number[], number[]][] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`kFold: the number of folds must be an integer of at least 2, got ${k}`);
  if (k > n) throw new Error(`kFold: cannot have ${k} folds of ${n} samples`);
  const order = args.shuffle ? new NumpyRandomState(args.seed ?? 0).permutation(n) : Array.from({ length: n }, (_, i) => i);
  const folds: [number[], number[]][] = [];
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    folds.push([[...order.slice(0, start), ...order.slice(start + size)], order.slice(start, start + size)]);
    start += size;
  }
  return folds;
}

/** Every combination of the grid's values, keys in the grid's order (scikit-learn's ParameterGrid sorts keys). */
export function parameterGrid(grid: Record<string, readonly unknown[]>): Params[] {
  let out: Params[] = [{}];
  for (const key of Object.keys(grid).sort()) {
    const values = grid[key];
    if (!Array.isArray(values) || !values.length) throw new Error(`parameterGrid: '${key}' must list at least one value, got ${JSON.stringify(values)}`);
    out = out.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return out;
}

export function takeRows(t: Tensor, indices: readonly number[]): Tensor {
  const size = sizeOf(t.shape.slice(1));
  const Ctor = t.data.constructor as new (n: number) => Tensor['data'];
  const out = new Ctor(indices.length * size);
  indices.forEach((j, i) => out.set(t.data.subarray(j * size, (j + 1) * size), i * size));
  return new Tensor(out, [indices.length, ...t.shape.slice(1)], t.dtype);
}

export interface CvResult {
  readonly params: Params;
  readonly splitScores: number[];
  readonly meanTestScore: number;
  readonly stdTestScore: number;
  readonly rankTestScore: number;
}

export interface GridSearchArgs {
  readonly cv?: number;
  readonly shuffle?: boolean;
  readonly seed?: number;
  readonly refit?: boolean;
  readonly fitArgs?: Params;
}

const GRID_OPTIONS = optionSpec<GridSearchArgs>({ cv: true, shuffle: true, seed: true, refit: true, fitArgs: true });

export class GridSearchCV {
  cvResults: CvResult[] = [];
  bestParams: Params | null = null;
  bestScore = -Infinity;
  bestEstimator: Estimator | null = null;

  readonly args: GridSearchArgs;

  constructor(readonly estimator: Estimator, readonly paramGrid: Record<string, readonly unknown[]>, options: KerasOptions<GridSearchArgs> = {}) {
    this.args = readOptions('GridSearchCV', options, GRID_OPTIONS);
  }

  async fit(x: Tensor, y: Tensor): Promise<this> {
    if (x.shape[0] !== y.shape[0]) throw new Error(`GridSearchCV.fit: x has ${x.shape[0]} samples but y has ${y.shape[0]}`);
    const folds = kFold(x.shape[0], this.args.cv ?? 3, this.args);
    const results: Omit<CvResult, 'rankTestScore'>[] = [];
    for (const params of parameterGrid(this.paramGrid)) {
      const splitScores: number[] = [];
      for (const [train, test] of folds) {
        const e = this.estimator.clone().setParams(params);
        await e.fit(takeRows(x, train), takeRows(y, train), this.args.fitArgs);
        splitScores.push(await e.score(takeRows(x, test), takeRows(y, test)));
      }
      const mean = splitScores.reduce((a, b) => a + b, 0) / splitScores.length;
      const std = Math.sqrt(splitScores.reduce((a, b) => a + (b - mean) ** 2, 0) / splitScores.length);
      results.push({ params, splitScores, meanTestScore: mean, stdTestScore: std });
    }
    const sorted = [...results].sort((a, b) => b.meanTestScore - a.meanTestScore);
    this.cvResults = results.map((r) => ({ ...r, rankTestScore: sorted.findIndex((s) => s.meanTestScore === r.meanTestScore) + 1 }));
    const best = sorted[0];
    this.bestParams = best.params;
    this.bestScore = best.meanTestScore;
    if (this.args.refit ?? true) {
      this.bestEstimator = this.estimator.clone().setParams(best.params);
      await this.bestEstimator.fit(x, y, this.args.fitArgs);
    }
    return this;
  }
}
