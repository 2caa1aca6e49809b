/** The peers of bench/compile.ts: mnist_mlp ready to run once in onnxruntime-node and in TensorFlow.js (cpu). */
import { cpus } from 'node:os';
import { initializer, model as onnxModel, node, valueInfo } from './onnx.js';

const DIMS = [[784, 512], [512], [512, 512], [512], [512, 10], [10]];

/** Deterministic weights of mnist_mlp's shapes. */
function weights(): Float32Array[] {
  return DIMS.map((d, k) => Float32Array.from({ length: d.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.1 + k) * 0.05));
}

export async function mnistMlpOnnx(): Promise<() => Promise<void>> {
  const ort = await import('onnxruntime-node');
  const names = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'];
  const nodes = [
    node('MatMul', ['x', 'w1'], ['m1']), node('Add', ['m1', 'b1'], ['a1']), node('Relu', ['a1'], ['h1']),
    node('MatMul', ['h1', 'w2'], ['m2']), node('Add', ['m2', 'b2'], ['a2']), node('Relu', ['a2'], ['h2']),
    node('MatMul', ['h2', 'w3'], ['m3']), node('Add', ['m3', 'b3'], ['a3']), node('Softmax', ['a3'], ['y']),
  ];
  const w = weights();
  const bytes = onnxModel(nodes, [valueInfo('x', ['batch', 784])], [valueInfo('y', ['batch', 10])], names.map((n, i) => initializer(n, DIMS[i], w[i])));
  return async () => {
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: cpus().length, interOpNumThreads: 1 });
    await session.run({ x: new ort.Tensor('float32', new Float32Array(784), [1, 784]) });
  };
}

export async function mnistMlpTfjs(): Promise<() => Promise<void>> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  return async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }),
        tf.layers.dense({ units: 512, activation: 'relu' }),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    (model.predict(tf.zeros([1, 784])) as { dataSync(): unknown }).dataSync();
  };
}
