/**
 * customObjects: a file that names user layers, activations or losses loads
 * only when they are given (by the name the file uses), and then behaves as
 * the model that was saved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { K, type KTensor, Sequential, Tensor, layers, loadModel, modelFromJSON, setBackend } from '../../src/index.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';

setBackend('interpreter');
const dir = mkdtempSync(join(tmpdir(), 'kiln-custom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A user layer: a Dense under its own class name. */
class Scaled extends layers.Dense {
  constructor(units: number, args: Record<string, unknown> = {}) {
    super(units, args);
    (this as { className: string }).className = 'Scaled';
  }

  static fromConfig(config: Record<string, unknown>): Scaled {
    return new Scaled(config.units as number, config);
  }
}

const X = new Tensor(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)), [4, 3]);

describe('custom layers', () => {
  it('a saved model with a user layer loads only with customObjects, then predicts the same', async () => {
    const model = new Sequential([new Scaled(4, { inputShape: [3], name: 'scaled' }), new layers.Dense(2)]);
    const path = join(dir, 'scaled.h5');
    await model.save(path);
    await expect(loadModel(path)).rejects.toThrow(/layer 'scaled' has unknown class "Scaled".*pass others in customObjects/);
    const loaded = await loadModel(path, { customObjects: { Scaled } });
    expect(loaded.layers[0]).toBeInstanceOf(Scaled);
    expect(Array.from(((await loaded.predict(X)) as Tensor).data)).toEqual(Array.from(((await model.predict(X)) as Tensor).data));
  });
});

describe('custom activations', () => {
  const swish = (b: GraphBuilder, x: Value): Value => b.mul(x, b.unary('sigmoid', x));
  const config = JSON.stringify({
    class_name: 'Sequential',
    config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, activation: 'my_swish', batch_input_shape: [null, 3], kernel_initializer: { class_name: 'Ones', config: {} } } }] },
  });

  it('an unknown activation name is an error without customObjects', () => {
    expect(() => modelFromJSON(config)).toThrow(/my_swish/);
  });

  it('with customObjects the activation is the given function', async () => {
    const model = modelFromJSON(config, { customObjects: { my_swish: swish } });
    const y = (await model.predict(X)) as Tensor;
    for (let r = 0; r < 4; r++) {
      const s = X.data[r * 3] + X.data[r * 3 + 1] + X.data[r * 3 + 2];
      expect(y.data[r * 2]).toBeCloseTo(s / (1 + Math.exp(-s)), 5);
    }
  });
});

describe('custom losses', () => {
  function myMse(yTrue: KTensor, yPred: KTensor): KTensor {
    return K.mean(K.square(K.sub(yPred, yTrue)), -1);
  }

  it("a training config naming a user loss compiles with the function given under that name", async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
    model.compile({ optimizer: 'sgd', loss: myMse });
    const path = join(dir, 'loss.h5');
    await model.save(path);
    await expect(loadModel(path)).rejects.toThrow(/myMse/);
    const loaded = await loadModel(path, { customObjects: { myMse } });
    const y = new Tensor(new Float32Array(8).fill(0.5), [4, 2]);
    expect(await loaded.evaluate(X, y, { verbose: 0 })).toBeCloseTo((await model.evaluate(X, y, { verbose: 0 })) as number, 6);
  });
});

describe('Lambda layers', () => {
  function tripleIt(x: KTensor | KTensor[]): KTensor {
    return K.mul(x as KTensor, 3);
  }

  it('a saved Lambda resolves only through the function given under its name', async () => {
    const model = new Sequential([new layers.Dense(3, { inputShape: [3] }), new layers.Lambda(tripleIt)]);
    const path = join(dir, 'lambda.keras');
    await model.save(path);
    await expect(loadModel(path)).rejects.toThrow(/needs the function 'tripleIt'/);
    const loaded = await loadModel(path, { customObjects: { tripleIt } });
    expect(Array.from(((await loaded.predict(X)) as Tensor).data)).toEqual(Array.from(((await model.predict(X)) as Tensor).data));
  });
});
