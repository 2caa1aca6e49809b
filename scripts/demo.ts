/**
 * `npm run demo`: the Keras mnist_mlp architecture, compiled for the CPU and
 * run on a batch. Prints model.summary(), the predictions' shape and a few
 * rows, the compile statistics, and predict throughput.
 */
import { Sequential, layers, tensor } from '../src/index.js';

const BATCH = 128;

async function main(): Promise<void> {
  const model = new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784] }),
    new layers.Dropout(0.2),
    new layers.Dense(512, { activation: 'relu' }),
    new layers.Dropout(0.2),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.summary();

  // A deterministic stand-in for a batch of MNIST digits: pixel intensities in [0, 1].
  const pixels = Float32Array.from({ length: BATCH * 784 }, (_, i) => Math.abs((Math.sin(i * 12.9898) * 43758.5453) % 1));
  const x = tensor(pixels, [BATCH, 784]);

  const t0 = performance.now();
  const y = await model.predict(x, { batchSize: BATCH });
  const compileMs = performance.now() - t0;
  const probs = y.data as Float32Array;
  console.log(`\npredict: input [${x.shape.join(', ')}] -> output [${y.shape.join(', ')}]`);
  for (let r = 0; r < 3; r++) {
    const row = Array.from(probs.subarray(r * 10, r * 10 + 10));
    const sum = row.reduce((a, b) => a + b, 0);
    console.log(`  sample ${r}: class ${row.indexOf(Math.max(...row))}, probabilities sum to ${sum.toFixed(6)}`);
  }

  const s = model.compileStats!;
  console.log('\ncompile statistics (CPU backend, LLVM):');
  console.log(`  tensor-IR ops:        ${s.opsBefore} as built, ${s.opsAfter} after simplify`);
  console.log(`  fused kernels:        ${s.kernels}`);
  console.log(`  arena for temporaries ${s.arenaBytes} bytes planned vs ${s.intermediateBytes} bytes for all intermediate tensors (${(s.intermediateBytes / Math.max(s.arenaBytes, 1)).toFixed(1)}x less)`);
  console.log(`  native code:          ${s.cached ? 'from the on-disk cache' : 'compiled now'} (first predict took ${compileMs.toFixed(0)} ms)`);

  const runs = 50;
  const t1 = performance.now();
  for (let i = 0; i < runs; i++) await model.predict(x, { batchSize: BATCH });
  const seconds = (performance.now() - t1) / 1000;
  console.log(`  predict throughput:   ${Math.round((runs * BATCH) / seconds).toLocaleString('en-US')} samples/s at batch ${BATCH}`);
}

await main();
