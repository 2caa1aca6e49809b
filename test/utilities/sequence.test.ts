/** keras.preprocessing.sequence and keras.utils.Sequence, against Keras 2.2's documented behaviour and its own tests. */
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, layers, setBackend, tensor } from '../../src/index.js';
import { TimeseriesGenerator, makeSamplingTable, padSequences, skipgrams } from '../../src/preprocessing/sequence.js';
import { Prefetcher, Sequence } from '../../src/training/generators.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

describe('padSequences', () => {
  const a = [[1], [1, 2], [1, 2, 3]];
  it('pads and truncates at either end (Keras test_pad_sequences)', () => {
    expect(padSequences(a, { maxlen: 3, padding: 'pre' }).toArray()).toEqual([[0, 0, 1], [0, 1, 2], [1, 2, 3]]);
    expect(padSequences(a, { maxlen: 3, padding: 'post' }).toArray()).toEqual([[1, 0, 0], [1, 2, 0], [1, 2, 3]]);
    expect(padSequences(a, { maxlen: 2, truncating: 'pre' }).toArray()).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(padSequences(a, { maxlen: 2, truncating: 'post' }).toArray()).toEqual([[0, 1], [1, 2], [1, 2]]);
    expect(padSequences(a, { maxlen: 3, value: 1 }).toArray()).toEqual([[1, 1, 1], [1, 1, 2], [1, 2, 3]]);
  });

  it('every padding/truncating combination on sequences longer and shorter than maxlen', () => {
    const s = [[1, 2, 3, 4], [5], [], [6, 7]];
    const expected = {
      'pre/pre': [[2, 3, 4], [9, 9, 5], [9, 9, 9], [9, 6, 7]],
      'pre/post': [[1, 2, 3], [9, 9, 5], [9, 9, 9], [9, 6, 7]],
      'post/pre': [[2, 3, 4], [5, 9, 9], [9, 9, 9], [6, 7, 9]],
      'post/post': [[1, 2, 3], [5, 9, 9], [9, 9, 9], [6, 7, 9]],
    } as const;
    for (const padding of ['pre', 'post'] as const) {
      for (const truncating of ['pre', 'post'] as const) {
        const t = padSequences(s, { maxlen: 3, padding, truncating, value: 9 });
        expect(t.shape).toEqual([4, 3]);
        expect(t.toArray(), `${padding}/${truncating}`).toEqual(expected[`${padding}/${truncating}`]);
      }
    }
  });

  it('defaults: the longest length, int32; float dtypes keep fractions', () => {
    const t = padSequences([[1, 2, 3], [4]]);
    expect(t.dtype).toBe('int32');
    expect(t.toArray()).toEqual([[1, 2, 3], [0, 0, 4]]);
    const f = padSequences([[0.5], [1.5, 2.5]], { dtype: 'float32', padding: 'post', value: -1 });
    expect(f.toArray()).toEqual([[0.5, -1], [1.5, 2.5]]);
  });

  it('bad input names the value', () => {
    expect(() => padSequences(a, { padding: 'middle' as 'pre' })).toThrow(/Padding type 'middle'/);
    expect(() => padSequences(a, { truncating: 'x' as 'pre' })).toThrow(/Truncating type 'x'/);
    expect(() => padSequences([[1], 'ab' as unknown as number[]])).toThrow(/sequence 1 is not an array/);
    expect(() => padSequences([[1, 'b' as unknown as number]])).toThrow(/sequence 0 holds "b" at 1/);
    expect(() => padSequences(a, { max_len: 2 } as never)).toThrow(/padSequences: unknown option 'max_len'\. Valid options: maxlen, dtype, padding, truncating, value/);
    expect(padSequences(a, { maxlen: 2, truncating: 'post' } as never).toArray()).toEqual(padSequences(a, { maxlen: 2, truncating: 'post' }).toArray());
  });
});

describe('skipgrams and makeSamplingTable', () => {
  it('makeSamplingTable follows the Zipf estimate (Keras test values)', () => {
    const t = makeSamplingTable(3);
    [0.00315225, 0.00315225, 0.00547597].forEach((v, i) => expect(t[i]).toBeCloseTo(v, 7));
  });

  it('couples within the window, word 0 skipped, positives labelled 1', () => {
    const [couples, labels] = skipgrams([0, 1, 2, 3, 4], 5, { windowSize: 1, negativeSamples: 0, shuffle: false });
    expect(couples).toEqual([[1, 2], [2, 1], [2, 3], [3, 2], [3, 4], [4, 3]]);
    expect(labels).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('negative samples: as many as positives times the ratio, labelled 0 (or [1, 0]), words from the sequence', () => {
    const [couples, labels] = skipgrams([0, 1, 2, 3, 4], 50, { windowSize: 1, negativeSamples: 2, categorical: true, seed: 3 });
    expect(couples.length).toBe(18);
    expect(labels.filter((l) => JSON.stringify(l) === '[1,0]').length).toBe(12);
    expect(labels.filter((l) => JSON.stringify(l) === '[0,1]').length).toBe(6);
    couples.forEach(([w, c], i) => {
      expect([1, 2, 3, 4]).toContain(w);
      if (JSON.stringify(labels[i]) === '[0,1]') expect(Math.abs(w - c)).toBe(1);
      else expect(c >= 1 && c < 50).toBe(true);
    });
    expect(skipgrams([1, 2, 3, 4], 50, { seed: 3 })).toEqual(skipgrams([1, 2, 3, 4], 50, { seed: 3 }));
  });

  it('a sampling table of zeros drops every word', () => {
    expect(skipgrams([1, 2, 3], 4, { samplingTable: [0, 0, 0, 0], seed: 1 })).toEqual([[], []]);
  });
});

describe('TimeseriesGenerator (Keras test_TimeseriesGenerator)', () => {
  const series = tensor(Array.from({ length: 50 }, (_, i) => [i]));
  it('windows with sampling rate, reverse, start/end index and stride', () => {
    const g = new TimeseriesGenerator(series, series, { length: 10, samplingRate: 2, batchSize: 2 });
    expect(g.length).toBe(20);
    expect(g.getItem(0)[0].toArray()).toEqual([[[0], [2], [4], [6], [8]], [[1], [3], [5], [7], [9]]]);
    expect(g.getItem(0)[1].toArray()).toEqual([[10], [11]]);
    expect(g.getItem(1)[0].toArray()).toEqual([[[2], [4], [6], [8], [10]], [[3], [5], [7], [9], [11]]]);
    const r = new TimeseriesGenerator(series, series, { length: 10, samplingRate: 2, reverse: true, batchSize: 2 });
    expect(r.getItem(0)[0].toArray()).toEqual([[[8], [6], [4], [2], [0]], [[9], [7], [5], [3], [1]]]);
    const se = new TimeseriesGenerator(series, series, { length: 10, samplingRate: 2, startIndex: 10, endIndex: 30, batchSize: 2 });
    expect(se.length).toBe(6);
    expect(se.getItem(0)[0].toArray()).toEqual([[[10], [12], [14], [16], [18]], [[11], [13], [15], [17], [19]]]);
    expect(se.getItem(0)[1].toArray()).toEqual([[20], [21]]);
    const st = new TimeseriesGenerator(series, series, { length: 10, stride: 3, batchSize: 2 });
    expect(st.getItem(0)[1].toArray()).toEqual([[10], [13]]);
    expect(st.getItem(1)[1].toArray()).toEqual([[16], [19]]);
    expect(st.length).toBe(7);
    expect(st.getItem(6)[1].toArray()).toEqual([[46], [49]]);
  });

  it('shuffled windows still end just before their target; no fitting window is an error', () => {
    const g = new TimeseriesGenerator(series, series, { length: 4, shuffle: true, batchSize: 8, seed: 5 });
    const [x, y] = g.getItem(0);
    const xs = x.toArray() as number[][][];
    (y.toArray() as number[][]).forEach(([t], b) => expect(xs[b].map((v) => v[0])).toEqual([t - 4, t - 3, t - 2, t - 1]));
    expect(() => new TimeseriesGenerator(series, series, { length: 60 })).toThrow(/startIndex \+ length \(60\) is past endIndex \(49\)/);
  });
});

class Squares extends Sequence<[Tensor, Tensor]> {
  readonly calls: number[] = [];
  epochs = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(readonly length: number, private readonly delayMs = 0) {
    super();
  }
  async getItem(i: number): Promise<[Tensor, Tensor]> {
    this.calls.push(i);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    const x = tensor([[i / 4, 1]]);
    return [x, tensor([[i / 2 + 1]])];
  }
  override onEpochEnd(): void {
    this.epochs++;
  }
}

describe('utils.Sequence', () => {
  it('streams epochs in order, calls onEpochEnd between epochs, and runs `workers` getItem calls at once', async () => {
    const seq = new Squares(3, 5);
    const q = new Prefetcher(seq.iterate({ workers: 3 }), 6);
    const got: number[] = [];
    for (let k = 0; k < 6; k++) got.push(((await q.next())![0].data[0] * 4));
    expect(got).toEqual([0, 1, 2, 0, 1, 2]);
    expect(seq.maxInFlight).toBe(3);
    expect(seq.epochs).toBeGreaterThanOrEqual(1);
    const serial = new Squares(4, 2);
    const q1 = new Prefetcher(serial, 4);
    for (let k = 0; k < 4; k++) await q1.next();
    expect(serial.maxInFlight).toBe(1);
  });

  it('a failing getItem reaches the consumer of that batch; batches read ahead that fail are not unhandled', async () => {
    class Failing extends Squares {
      override async getItem(i: number): Promise<[Tensor, Tensor]> {
        if (i >= 1) throw new Error(`batch ${i} is broken`);
        return super.getItem(i);
      }
    }
    const q = new Prefetcher(new Failing(4).iterate({ workers: 2 }), 4);
    expect((await q.next())![1].data[0]).toBe(1);
    await expect(q.next()).rejects.toThrow('batch 1 is broken');
    await new Promise((r) => setTimeout(r, 20));
  });

  it('shuffle visits every batch once per epoch in a new order', async () => {
    const seq = new Squares(8);
    const it = seq.iterate({ shuffle: true, seed: 7 })[Symbol.asyncIterator]();
    const epoch = async (): Promise<number[]> => Promise.all(Array.from({ length: 8 }, async () => (await it.next()).value[0].data[0] * 4));
    const e1 = await epoch();
    const e2 = await epoch();
    expect([...e1].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...e2].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(e1).not.toEqual(e2);
  });

  it('fitGenerator trains on a Sequence as on the same batches in memory', async () => {
    const make = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [2], kernelInitializer: 'zeros' })]);
    const a = make();
    const b = make();
    for (const m of [a, b]) m.compile({ optimizer: 'sgd', loss: 'mse' });
    const seq = new Squares(4);
    const h = await a.fitGenerator(seq.iterate({ workers: 2 }), { stepsPerEpoch: seq.length, epochs: 3, verbose: 0 });
    const x = tensor([0, 1, 2, 3].map((i) => [i / 4, 1]));
    const y = tensor([0, 1, 2, 3].map((i) => [i / 2 + 1]));
    await b.fit(x, y, { batchSize: 1, epochs: 3, shuffle: false, verbose: 0 });
    expect(h.history.loss.length).toBe(3);
    expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
    expect(a.getWeights()[0].data).toBeAllClose(b.getWeights()[0].data, { atol: 1e-6 });
  });
});
