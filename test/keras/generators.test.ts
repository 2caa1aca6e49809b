/** fitGenerator / evaluateGenerator / predictGenerator over (async) iterables with a bounded queue. */
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, layers, setBackend, tensor } from '../../src/index.js';
import { Prefetcher } from '../../src/training/generators.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const X = tensor(Array.from({ length: 24 }, (_, i) => [Math.sin(i), Math.cos(i)]));
const Y = tensor(Array.from({ length: 24 }, (_, i) => [Math.sin(i) + Math.cos(i)]));
const rows = (t: Tensor, from: number, to: number): Tensor => new Tensor(t.data.slice(from * t.shape[1], to * t.shape[1]), [to - from, t.shape[1]]);

function* batches(pulled: { count: number }): Generator<[Tensor, Tensor]> {
  for (;;) {
    for (let i = 0; i < 24; i += 8) {
      pulled.count++;
      yield [rows(X, i, i + 8), rows(Y, i, i + 8)];
    }
  }
}

const model = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [2], kernelInitializer: 'ones' })]);

describe('generators', () => {
  it('the prefetch queue reads at most maxQueueSize items ahead', async () => {
    const pulled = { count: 0 };
    const q = new Prefetcher(batches(pulled), 3);
    expect(pulled.count).toBe(3);
    await q.next();
    expect(pulled.count).toBe(4);
    const done = new Prefetcher([1, 2], 5);
    expect([await done.next(), await done.next(), await done.next(), await done.next()]).toEqual([1, 2, null, null]);
  });

  it('fitGenerator trains like fit on the same batches in the same order', async () => {
    const a = model();
    const b = model();
    for (const m of [a, b]) m.compile({ optimizer: 'sgd', loss: 'mse' });
    const h = await a.fitGenerator(batches({ count: 0 }), { stepsPerEpoch: 3, epochs: 2, verbose: 0, maxQueueSize: 2 });
    await b.fit(X, Y, { batchSize: 8, epochs: 2, shuffle: false, verbose: 0 });
    expect(h.history.loss).toHaveLength(2);
    expect(a.getWeights()[0].data).toBeAllClose(b.getWeights()[0].data, { rtol: 1e-5, atol: 1e-6 });
  });

  it('evaluateGenerator and predictGenerator agree with evaluate and predict; async sources work', async () => {
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    async function* source(): AsyncGenerator<[Tensor, Tensor]> {
      for (let i = 0; i < 24; i += 8) yield [rows(X, i, i + 8), rows(Y, i, i + 8)];
    }
    expect((await m.evaluateGenerator(source(), { steps: 3 })) as number[]).toBeAllClose((await m.evaluate(X, Y)) as number[], { rtol: 1e-6, atol: 1e-7 });
    const p = await m.predictGenerator(batches({ count: 0 }), { steps: 3 });
    expect(p.shape).toEqual([24, 1]);
    expect(p.data).toBeAllClose((await m.predict(X)).data, { rtol: 0, atol: 0 });
    await expect(m.fitGenerator(source(), { stepsPerEpoch: 4, verbose: 0 })).rejects.toThrow(/the source ran out after 3 batches of epoch 1; it must yield stepsPerEpoch \(4\) batches per epoch/);
  });
});

describe('fitGenerator with a utils.Sequence', () => {
  it('takes Keras\'s workers, useMultiprocessing and shuffle, reading batches ahead in parallel', async () => {
    const { Sequential, layers, tensor, utils } = await import('../../src/index.js');
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    class Batches extends utils.Sequence<readonly [ReturnType<typeof tensor>, ReturnType<typeof tensor>]> {
      readonly length = 4;
      async getItem(i: number): Promise<readonly [ReturnType<typeof tensor>, ReturnType<typeof tensor>]> {
        inFlight++;
        most = Math.max(most, inFlight);
        seen.push(i);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return [tensor([[i, 1]]), tensor([[i]])];
      }
    }
    const model = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const history = await model.fitGenerator(new Batches(), { stepsPerEpoch: 4, epochs: 2, verbose: 0, workers: 3, useMultiprocessing: true, shuffle: true });
    expect(history.history.loss).toHaveLength(2);
    expect(most).toBeGreaterThan(1);
    expect(seen.slice(0, 4).sort()).toEqual([0, 1, 2, 3]);
    model.dispose();
  });
});
