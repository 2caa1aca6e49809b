/** What a Keras user trips on (issue 16): one describe per numbered item, each failing on the code before its fix. */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const N = 16;
const x8 = tensor(Array.from({ length: N }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 0.7 + j))));
const y1 = tensor(Array.from({ length: N }, (_, i) => [Math.cos(i)]));

describe('item 1: frozen layers under stateful optimizers', () => {
  const frozen = (where: 'constructor' | 'recompile', optimizer: string | optimizers.Optimizer) => async () => {
    const feat = new layers.Dense(4, { inputShape: [8], trainable: where === 'constructor' ? false : undefined, name: 'feat' });
    const m = new Sequential([feat, new layers.Dense(1)]);
    if (where === 'recompile') {
      m.compile({ optimizer, loss: 'mse' });
      await m.fit(x8, y1, { epochs: 1, verbose: 0 });
      feat.trainable = false;
    }
    m.compile({ optimizer, loss: 'mse' });
    const before = feat.getWeights().map((w) => Float32Array.from(w.data));
    const head = m.layers[1].getWeights().map((w) => Float32Array.from(w.data));
    await m.fit(x8, y1, { epochs: 2, batchSize: 4, verbose: 0 });
    feat.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(before[i])));
    // The trainable head still learns.
    expect(Array.from(m.layers[1].getWeights()[0].data)).not.toEqual(Array.from(head[0]));
  };
  it('adam, frozen in the constructor', frozen('constructor', 'adam'));
  it('rmsprop, frozen in the constructor', frozen('constructor', 'rmsprop'));
  it('SGD with momentum, frozen in the constructor', frozen('constructor', new optimizers.SGD({ momentum: 0.9 })));
  it('adam, frozen before a recompile', frozen('recompile', 'adam'));
  it('nadam, frozen before a recompile', frozen('recompile', 'nadam'));
});
