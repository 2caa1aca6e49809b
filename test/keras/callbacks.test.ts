/** Learning-rate callbacks, CSVLogger, and freezing layers with trainable = false. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sequential, callbacks, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const x = tensor(Array.from({ length: 16 }, (_, i) => [Math.sin(i), Math.cos(i)]));
const y = tensor(Array.from({ length: 16 }, (_, i) => [Math.sin(i) - Math.cos(i)]));
const model = (): Sequential => new Sequential([new layers.Dense(4, { inputShape: [2], activation: 'tanh' }), new layers.Dense(1)]);

describe('learning-rate callbacks', () => {
  it('LearningRateScheduler sets the rate each epoch; a zero rate freezes the weights', async () => {
    const m = model();
    m.compile({ optimizer: new optimizers.SGD({ lr: 0.1 }), loss: 'mse' });
    const rates: number[] = [];
    const snapshots: number[][] = [];
    await m.fit(x, y, {
      epochs: 3, batchSize: 16, verbose: 0,
      callbacks: [
        new callbacks.LearningRateScheduler((epoch) => (epoch === 0 ? 0.1 : 0)),
        new callbacks.LambdaCallback({ onEpochEnd: async () => void (rates.push(m.lr), snapshots.push(Array.from(m.getWeights()[0].data))) }),
      ],
    });
    expect(rates).toEqual([0.1, 0, 0]);
    expect(snapshots[2]).toEqual(snapshots[1]);
  });

  it('ReduceLROnPlateau divides the rate when the loss stalls', async () => {
    const m = model();
    // Nothing trains, so the loss is flat from the first epoch on.
    for (const l of m.layers) l.trainable = false;
    m.compile({ optimizer: new optimizers.SGD({ lr: 0.8 }), loss: 'mse' });
    const rates: number[] = [];
    const plateau = new callbacks.ReduceLROnPlateau({ monitor: 'loss', patience: 2, factor: 0.5 });
    await m.fit(x, y, { epochs: 6, batchSize: 16, verbose: 0, callbacks: [plateau, new callbacks.LambdaCallback({ onEpochEnd: async () => void rates.push(m.lr) })] });
    expect(rates).toEqual([0.8, 0.8, 0.4, 0.4, 0.2, 0.2]);
  });
});

it('CSVLogger writes one row per epoch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-csv-'));
  try {
    const m = model();
    m.compile({ optimizer: 'adam', loss: 'mse', metrics: ['mae'] });
    const h = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [new callbacks.CSVLogger(join(dir, 'log.csv'))] });
    const lines = readFileSync(join(dir, 'log.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('epoch,loss,mae');
    expect(lines.slice(1).map((l) => Number(l.split(',')[1]))).toBeAllClose(h.history.loss, { rtol: 1e-12, atol: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('trainable = false freezes a layer at the next compile', async () => {
  const m = model();
  m.layers[0].trainable = false;
  m.compile({ optimizer: 'sgd', loss: 'mse' });
  const [k0, b0, k1] = m.getWeights();
  await m.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
  const [k0After, b0After, k1After] = m.getWeights();
  expect(Array.from(k0After.data)).toEqual(Array.from(k0.data));
  expect(Array.from(b0After.data)).toEqual(Array.from(b0.data));
  expect(Array.from(k1After.data)).not.toEqual(Array.from(k1.data));
  const lines: string[] = [];
  m.summary((l) => lines.push(l));
  expect(lines.join('\n')).toMatch(/Trainable params: 5\nNon-trainable params: 12/);
});
