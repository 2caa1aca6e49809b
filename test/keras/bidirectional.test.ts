/** Bidirectional: forward and backward copies of a recurrent layer, the backward sequence put back in time order, merged as Keras 2. */
import { describe, expect, it } from 'vitest';
import { Input, Model, type Tensor, layers, modelFromJSON, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const x = tensor(Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => Math.sin(i * 0.7)), [2, 4, 3]);
/** Reverses axis 1 of a [batch, steps, units] tensor. */
const reverseTime = (t: Tensor): number[] => {
  const [n, steps, u] = t.shape;
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let s = steps - 1; s >= 0; s--) for (let j = 0; j < u; j++) out.push(t.data[(i * steps + s) * u + j]);
  return out;
};

describe('Bidirectional', () => {
  it('runs a forward copy and a go_backwards copy and merges them in time order', async () => {
    const input = Input({ shape: [4, 3] });
    const bi = new layers.Bidirectional(new layers.SimpleRNN(2, { returnSequences: true, name: 'rnn' }), { mergeMode: null, name: 'bi' });
    const model = new Model({ inputs: input, outputs: bi.applyMulti(input) });
    expect(model.getWeights().map((w) => w.shape)).toEqual([[3, 2], [2, 2], [2], [3, 2], [2, 2], [2]]);
    expect(bi.weights.map((w) => w.name)).toEqual(['forward_rnn/kernel:0', 'forward_rnn/recurrent_kernel:0', 'forward_rnn/bias:0', 'backward_rnn/kernel:0', 'backward_rnn/recurrent_kernel:0', 'backward_rnn/bias:0']);
    const [y, yr] = await model.predict(x);
    const weights = model.getWeights();
    const forward = new Model({ inputs: input, outputs: new layers.SimpleRNN(2, { returnSequences: true }).apply(input) });
    forward.setWeights(weights.slice(0, 3));
    const backward = new Model({ inputs: input, outputs: new layers.SimpleRNN(2, { returnSequences: true, goBackwards: true }).apply(input) });
    backward.setWeights(weights.slice(3));
    expect(y.data).toBeAllClose((await forward.predict(x)).data, { rtol: 1e-5, atol: 1e-6 });
    expect(yr.data).toBeAllClose(reverseTime(await backward.predict(x)), { rtol: 1e-5, atol: 1e-6 });
    for (const mode of ['concat', 'sum', 'mul', 'ave'] as const) {
      const m = new Model({ inputs: input, outputs: new layers.Bidirectional(new layers.SimpleRNN(2, { returnSequences: true }), { mergeMode: mode }).apply(input) });
      m.setWeights(weights);
      const out = await m.predict(x);
      const want = mode === 'concat' ? Array.from({ length: 32 }, (_, k) => { const [row, j] = [Math.floor(k / 4), k % 4]; return j < 2 ? y.data[row * 2 + j] : yr.data[row * 2 + j - 2]; })
        : Array.from(y.data, (v, k) => (mode === 'sum' ? v + yr.data[k] : mode === 'mul' ? v * yr.data[k] : (v + yr.data[k]) / 2));
      expect(out.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
      m.dispose();
    }
    const copy = modelFromJSON(model.toJSON());
    copy.setWeights(weights);
    expect(((await copy.predict(x)) as Tensor[])[1].data).toEqual(yr.data);
    expect(() => new layers.Bidirectional(new layers.Dense(2))).toThrow('the wrapped layer must be a recurrent layer');
    expect(() => new layers.Bidirectional(new layers.SimpleRNN(2), { mergeMode: 'max' as never })).toThrow('invalid merge mode "max"');
    [model, forward, backward, copy].forEach((m) => m.dispose());
  });
});
