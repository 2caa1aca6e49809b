/**
 * A CNN trained with fitGenerator on ImageDataGenerator.flow reaches the
 * accuracy of the same CNN trained in memory from the same initial weights,
 * on a Fashion-MNIST slice: unshuffled and unaugmented, exactly (the same
 * batches); augmented (in worker threads), well above chance. The samples/s of each
 * are printed (the ratios are reported in docs/utilities.md).
 */
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, datasets, layers, setBackend } from '../../src/index.js';
import { ImageDataGenerator } from '../../src/preprocessing/image_data_generator.js';
import { toCategorical } from '../../src/utils.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const N_TRAIN = 768;
const N_TEST = 500;

function images(t: Tensor, n: number): Tensor {
  return new Tensor(Float32Array.from(t.data.subarray(0, n * 784), (v) => v / 255), [n, 28, 28, 1]);
}

function cnn(): Sequential {
  const m = new Sequential([
    new layers.Conv2D(8, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
    new layers.MaxPooling2D([2, 2]),
    new layers.Flatten(),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

describe('CNN fed by ImageDataGenerator.flow', () => {
  it('reaches the in-memory accuracy band', async () => {
    const [[xr, yr], [xtr, ytr]] = datasets.fashion_mnist.loadData();
    const x = images(xr, N_TRAIN);
    const y = toCategorical(new Tensor(Float32Array.from(yr.data.subarray(0, N_TRAIN)), [N_TRAIN]), 10);
    const xt = images(xtr, N_TEST);
    const yt = toCategorical(new Tensor(Float32Array.from(ytr.data.subarray(0, N_TEST)), [N_TEST]), 10);
    const models = [cnn(), cnn(), cnn(), cnn()];
    const initial = models[0].getWeights();
    // One step each first, so that compiling the train program is not timed (from the same weights, so that
    // the optimizers' moments agree too); then the same initial weights again for all.
    for (const m of models) {
      m.setWeights(initial);
      await m.fit(new Tensor(x.data.slice(0, 32 * 784), [32, 28, 28, 1]), new Tensor(y.data.slice(0, 320), [32, 10]), { epochs: 1, verbose: 0 });
      m.setWeights(initial);
    }
    const epochs = 2;
    const timed = async (run: () => Promise<unknown>): Promise<number> => {
      const t = performance.now();
      await run();
      return (epochs * N_TRAIN) / ((performance.now() - t) / 1000);
    };
    const [memory, plain, augmented, listed] = models;
    const memoryRate = await timed(() => memory.fit(x, y, { batchSize: 32, epochs, shuffle: false, verbose: 0 }));
    // The same batches as a plain list, to tell fitGenerator's own cost from the flow's.
    const batches = Array.from({ length: epochs * N_TRAIN / 32 }, (_, b) => [new Tensor(x.data.slice((b % (N_TRAIN / 32)) * 32 * 784, ((b % (N_TRAIN / 32)) + 1) * 32 * 784), [32, 28, 28, 1]), new Tensor(y.data.slice((b % (N_TRAIN / 32)) * 320, ((b % (N_TRAIN / 32)) + 1) * 320), [32, 10])] as const);
    const listRate = await timed(() => listed.fitGenerator(batches, { stepsPerEpoch: N_TRAIN / 32, epochs, verbose: 0 }));
    const flow = new ImageDataGenerator().flow(x, y, { batchSize: 32, shuffle: false });
    const flowRate = await timed(() => plain.fitGenerator(flow, { stepsPerEpoch: flow.length, epochs, verbose: 0 }));
    const aug = new ImageDataGenerator({ rotationRange: 10, widthShiftRange: 0.1, heightShiftRange: 0.1, zoomRange: 0.1 }).flow(x, y, { batchSize: 32, seed: 1 });
    const augRate = await timed(() => augmented.fitGenerator(aug, { stepsPerEpoch: aug.length, epochs, verbose: 0 }));
    const acc = async (m: Sequential): Promise<number> => ((await m.evaluate(xt, yt)) as number[])[1];
    const [accMemory, accFlow, accAug] = [await acc(memory), await acc(plain), await acc(augmented)];
    // Unshuffled, the flow feeds the very batches fit does: the same weights, the same accuracy.
    expect(plain.getWeights()[0].data).toBeAllClose(memory.getWeights()[0].data, { atol: 1e-6 });
    process.stdout.write(`CNN on ${N_TRAIN} Fashion-MNIST images, ${epochs} epochs (${flow.workers} augmentation worker(s)): in memory ${memoryRate.toFixed(0)} samples/s, test acc ${accMemory.toFixed(3)}; fitGenerator over a list of the batches ${listRate.toFixed(0)} samples/s (ratio ${(listRate / memoryRate).toFixed(2)}); flow ${flowRate.toFixed(0)} samples/s (ratio ${(flowRate / memoryRate).toFixed(2)}), acc ${accFlow.toFixed(3)}; augmented flow ${augRate.toFixed(0)} samples/s (ratio ${(augRate / memoryRate).toFixed(2)}), acc ${accAug.toFixed(3)}\n`);
    expect(accMemory).toBeGreaterThan(0.55);
    expect(accFlow).toBeCloseTo(accMemory, 6);
    // Augmented batches slow learning over these 48 steps; they must still teach the model (chance is 0.1).
    expect(accAug).toBeGreaterThan(0.45);
  });
});
