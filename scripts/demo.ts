/**
 * `npm run demo`: the Keras mnist_mlp example on Fashion-MNIST. Builds the
 * model (Dense 512 relu, Dropout 0.2, Dense 512 relu, Dropout 0.2, Dense 10
 * softmax), prints model.summary(), trains it with RMSprop at batch 128 with
 * Keras's progress bar, evaluates it on the test set, and prints test
 * accuracy, training throughput and the compile statistics.
 *
 * Options (after `npm run demo --`): --backend cpu|webgpu|interpreter
 * (default cpu), --epochs N (default 10), --samples N (train on the first N
 * training samples; default all 60,000), --model mlp|cnn|addition_rnn (default mlp; cnn is
 * the Keras mnist_cnn example: Conv2D 32 3x3 relu, Conv2D 64 3x3 relu,
 * MaxPooling2D 2x2, Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5,
 * Dense 10 softmax, Adadelta lr=1.0, 3 epochs unless --epochs is given;
 * addition_rnn is the Keras addition RNN example, scripts/addition_rnn.ts).
 */
import { parseArgs } from 'node:util';
import { Sequential, Tensor, datasets, layers, optimizers, tensor, utils } from '../src/index.js';
import { mnistCnn } from '../bench/mnist_mlp.js';
import { BACKEND_NAMES, type BackendName, checkBackendName } from '../runtime/executor.js';

const { values: options } = parseArgs({ options: { backend: { type: 'string', default: 'cpu' }, epochs: { type: 'string' }, samples: { type: 'string' }, model: { type: 'string', default: 'mlp' } } });

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer, got '${text}'`);
  return n;
}

const BACKEND: BackendName = checkBackendName(options.backend, `backend (--backend takes ${BACKEND_NAMES.join(', ')})`);
// The Keras addition_rnn example on generated questions (scripts/addition_rnn.ts), instead of Fashion-MNIST.
const ADDITION_RNN = options.model === 'addition_rnn';
if (!ADDITION_RNN && options.model !== 'mlp' && options.model !== 'cnn') throw new Error(`--model takes mlp, cnn or addition_rnn, got '${options.model}'`);
const CNN = options.model === 'cnn';
const EPOCHS = positive('epochs', options.epochs ?? (CNN ? '3' : '10'));
const SAMPLES = options.samples === undefined ? Infinity : positive('samples', options.samples);
const BATCH = 128;

function pixels(x: Tensor, rows = x.shape[0]): Tensor {
  const out = new Float32Array(rows * 784);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] / 255;
  return tensor(out, CNN ? [rows, 28, 28, 1] : [rows, 784]);
}


async function main(): Promise<void> {
  const [[xTrainRaw, yTrainRaw], [xTestRaw, yTestRaw]] = datasets.fashion_mnist.loadData();
  const rows = Math.min(SAMPLES, xTrainRaw.shape[0]);
  const [xTrain, xTest] = [pixels(xTrainRaw, rows), pixels(xTestRaw)];
  const [yTrain, yTest] = [utils.toCategorical(tensor(yTrainRaw.data.slice(0, rows), [rows]), 10), utils.toCategorical(yTestRaw, 10)];
  console.log(`${xTrain.shape[0]} train samples, ${xTest.shape[0]} test samples`);

  const model = CNN ? mnistCnn() : new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784] }),
    new layers.Dropout(0.2),
    new layers.Dense(512, { activation: 'relu' }),
    new layers.Dropout(0.2),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.summary();
  const optimizer = CNN ? new optimizers.Adadelta({ lr: 1.0 }) : new optimizers.RMSprop();
  model.compile({ loss: 'categorical_crossentropy', optimizer, metrics: ['accuracy'], backend: BACKEND });

  const epochTimes: number[] = [];
  let epochStart = 0;
  const timer = new (class extends (await import('../src/callbacks.js')).Callback {
    override async onEpochBegin(): Promise<void> {
      epochStart = performance.now();
    }
    override async onEpochEnd(): Promise<void> {
      epochTimes.push((performance.now() - epochStart) / 1000);
    }
  })();
  await model.fit(xTrain, yTrain, { batchSize: BATCH, epochs: EPOCHS, verbose: 1, validationData: [xTest, yTest], callbacks: [timer] });
  const [loss, accuracy] = (await model.evaluate(xTest, yTest, { batchSize: BATCH, verbose: 0 })) as number[];
  console.log(`Test loss: ${loss.toFixed(4)}`);
  console.log(`Test accuracy: ${accuracy.toFixed(4)}`);
  // Epoch 1 includes compiling the train and test programs (or loading them from the cache).
  const steady = epochTimes.length > 1 ? epochTimes.slice(1) : epochTimes;
  const perEpoch = steady.reduce((a, b) => a + b, 0) / steady.length;
  console.log(`Training throughput: ${Math.round(xTrain.shape[0] / perEpoch).toLocaleString('en-US')} samples/s (${perEpoch.toFixed(1)} s per epoch, validation included)`);

  const t = model.trainCompileStats!;
  console.log(`\ntrain-step program on ${BACKEND} (forward, loss, backward, ${CNN ? 'Adadelta' : 'RMSprop'} update, metrics: one ${BACKEND === 'webgpu' ? 'submit' : 'call'} per step):`);
  console.log(`  tensor-IR ops:         ${t.opsBefore} as built, ${t.opsAfter} after simplify; ${t.kernels} fused kernels`);
  console.log(`  arena for temporaries: ${t.arenaBytes} bytes planned vs ${t.intermediateBytes} bytes for all intermediate tensors`);

  const probs = await model.predict(xTest, { batchSize: BATCH });
  const s = model.compileStats!;
  console.log(`\npredict on ${probs.shape[0]} test samples; compile statistics of the predict program (${BACKEND} backend):`);
  console.log(`  tensor-IR ops:         ${s.opsBefore} as built, ${s.opsAfter} after simplify`);
  console.log(`  fused kernels:         ${s.kernels}`);
  console.log(`  arena for temporaries: ${s.arenaBytes} bytes planned vs ${s.intermediateBytes} bytes for all intermediate tensors`);
  if (BACKEND === 'cpu') console.log(`  native code:           ${s.cached ? 'from the on-disk cache' : 'compiled now'}`);
}

if (ADDITION_RNN) await (await import('./addition_rnn.js')).additionRnn(BACKEND, options.epochs === undefined ? 200 : positive('epochs', options.epochs));
else await main();
