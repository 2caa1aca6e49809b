/** The model of issue 10: a compiled Sequential with one Dense(4, softmax) on 20 features, and data for it. */
import { Sequential, type Tensor, layers, tensor } from '../../src/index.js';
import type { BackendName } from '../../runtime/executor.js';

export const FEATURES = 20;
export const CLASSES = 4;

export function issueModel(loss = 'categorical_crossentropy', backend: BackendName = 'interpreter'): Sequential {
  const m = new Sequential([new layers.Dense(CLASSES, { activation: 'softmax', inputShape: [FEATURES], kernelInitializer: { className: 'RandomUniform', config: { seed: 3 } } })]);
  m.compile({ optimizer: 'sgd', loss, metrics: ['accuracy'], backend });
  return m;
}

export function features(n: number, width = FEATURES): Tensor {
  return tensor(Float32Array.from({ length: n * width }, (_, i) => Math.sin(i * 0.37)), [n, width]);
}

export function oneHotTargets(n: number): Tensor {
  return tensor(Float32Array.from({ length: n * CLASSES }, (_, i) => (i % CLASSES === Math.floor(i / CLASSES) % CLASSES ? 1 : 0)), [n, CLASSES]);
}

export function sparseTargets(labels: readonly number[]): Tensor {
  return tensor(Float32Array.from(labels), [labels.length]);
}

/** Every weight of the model, copied. */
export function snapshot(m: Sequential): number[][] {
  return m.getWeights().map((w) => Array.from(w.data));
}
