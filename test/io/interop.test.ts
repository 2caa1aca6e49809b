/**
 * Models written by real Keras (3.15.1, JAX backend; test/io/data, copied
 * from ../shared/interop) load through every file they come in and predict
 * what Keras computed: `loadModel` for the Keras 2 full-model .k2.h5, Keras
 * 3's legacy .h5 and native .keras; `modelFromJSON` + `loadWeights` for the
 * Keras 3 .json + .weights.h5 pair. A model whose layer classes Kiln lacks
 * must fail naming the missing class (and passes for real once the layers
 * exist: the check is the same test).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor, loadModel, modelFromJSON, setBackend } from '../../src/index.js';
import { LAYER_CLASSES } from '../../src/layers/index.js';
import type { AnyNetwork } from '../../src/io/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const MODELS = ['mlp', 'multi_io', 'cnn', 'lstm'];

interface Arr {
  readonly shape: number[];
  readonly data: number[];
}

function io(name: string): { inputs: Arr[]; expected: Arr[] } {
  return JSON.parse(readFileSync(join(DATA, `${name}.io.json`), 'utf8'));
}

/** Layer classes of a Keras 3 config that Kiln's registry lacks. */
function missingClasses(name: string): string[] {
  const config = JSON.parse(readFileSync(join(DATA, `${name}.json`), 'utf8'));
  const classes = (config.config.layers as { class_name: string }[]).map((l) => l.class_name);
  return [...new Set(classes.filter((c) => !Object.hasOwn(LAYER_CLASSES, c)))];
}

async function expectKerasOutputs(model: AnyNetwork, name: string): Promise<void> {
  const { inputs, expected } = io(name);
  const xs = inputs.map((a) => new Tensor(Float32Array.from(a.data), a.shape));
  const out = await model.predict(xs.length === 1 ? xs[0] : xs);
  const outs = out instanceof Tensor ? [out] : out;
  expect(outs.length).toBe(expected.length);
  outs.forEach((y, i) => {
    expect(y.shape).toEqual(expected[i].shape);
    expect(y.data).toBeAllClose(expected[i].data, { rtol: 1e-4, atol: 1e-5 });
  });
}

const FORMS: [string, (name: string) => Promise<AnyNetwork>][] = [
  ['.k2.h5 (Keras 2 full model)', (n) => loadModel(join(DATA, `${n}.k2.h5`))],
  ['.h5 (Keras 3 legacy)', (n) => loadModel(join(DATA, `${n}.h5`))],
  ['.keras (Keras 3 zip)', (n) => loadModel(join(DATA, `${n}.keras`))],
  ['.keras as bytes', (n) => loadModel(readFileSync(join(DATA, `${n}.keras`)))],
  ['.k2.h5 as bytes', (n) => loadModel(readFileSync(join(DATA, `${n}.k2.h5`)))],
  ['.json + .weights.h5', async (n) => {
    const m = modelFromJSON(readFileSync(join(DATA, `${n}.json`), 'utf8'));
    await m.loadWeights(join(DATA, `${n}.weights.h5`));
    return m;
  }],
];

describe.each(MODELS)('%s written by Keras', (name) => {
  const missing = missingClasses(name);
  it.each(FORMS)(`loads from %s and predicts Keras's outputs${missing.length ? ` (once ${missing.join(', ')} exist)` : ''}`, async (_form, load) => {
    if (missing.length) {
      await expect(load(name)).rejects.toThrow(new RegExp(`unknown class "(${missing.join('|')})"`));
      return;
    }
    const model = await load(name);
    await expectKerasOutputs(model, name);
    model.dispose();
  });
});

describe('compiled state from the files', () => {
  it("the Keras 2 file's training_config compiles the model with its optimizer, loss and metrics", async () => {
    const model = await loadModel(join(DATA, 'mlp.k2.h5'));
    expect(model.metricsNames).toEqual(['loss', 'accuracy']);
    const { expected, inputs } = io('mlp');
    const x = new Tensor(Float32Array.from(inputs[0].data), inputs[0].shape);
    const y = new Tensor(Float32Array.from(expected[0].data), expected[0].shape);
    const [loss] = (await model.evaluate(x, y, { verbose: 0 })) as number[];
    // Cross-entropy of Keras's own outputs against themselves: the entropy of each row, averaged.
    const rows = expected[0].shape[0];
    const k = expected[0].shape[1];
    let entropy = 0;
    for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) entropy -= expected[0].data[r * k + j] * Math.log(expected[0].data[r * k + j]);
    expect(loss).toBeCloseTo(entropy / rows, 4);
    model.dispose();
  });

  it('compile: false leaves the model uncompiled', async () => {
    const model = await loadModel(join(DATA, 'mlp.k2.h5'), { compile: false });
    expect(() => model.metricsNames).toThrow(/must be compiled/);
  });
});
