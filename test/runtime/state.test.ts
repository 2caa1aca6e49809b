/**
 * State params and updates: a program that trains a linear model by gradient
 * descent keeps its weights resident and updates them in place on every run,
 * on every backend, matching a float64 reference step for step. And a run
 * starts before run() returns, so runs can be pipelined.
 */
import { expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { printGraph } from '../../ir/print.js';
import { grad } from '../../passes/autodiff.js';
import { compileGraph } from '../../runtime/executor.js';
import { TEST_BACKEND } from '../helpers/backend.js';

const X = [[1, 2], [3, -1], [0.5, 0.5]];
const Y = [1, 0, 2];
const LR = 0.05;

function stepGraph() {
  const b = new GraphBuilder();
  const x = b.param('x', [3, 2]);
  const y = b.param('y', [3, 1]);
  const w = b.param('w', [2, 1], 'float32', 'state');
  const diff = b.sub(b.matmul(x, w), y);
  const loss = b.mean(b.mul(diff, diff));
  const forward = b.build([loss]);
  const { builder, outputs, grads } = grad(forward, 0, ['w']);
  // grad() copies the forward graph node for node, so `w` names the same param in `builder`.
  return builder.build([outputs[0]], [{ target: w, value: builder.sub(w, builder.mul(grads[0], LR)) }]);
}

function reference(steps: number): { losses: number[]; w: number[] } {
  let w = [0.3, -0.2];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const d = X.map((r, i) => r[0] * w[0] + r[1] * w[1] - Y[i]);
    losses.push(d.reduce((a, v) => a + v * v, 0) / 3);
    const g = [0, 1].map((j) => X.reduce((a, r, i) => a + (2 / 3) * d[i] * r[j], 0));
    w = w.map((v, j) => v - LR * g[j]);
  }
  return { losses, w };
}

it('prints updates in the IR text', () => {
  expect(printGraph(stepGraph())).toMatch(/\nupdate %2 <- %\d+\nreturn %\d+$/);
});

it.each(['interpreter', TEST_BACKEND] as const)('weights stay resident and update in place on %s', async (backend) => {
  const program = await compileGraph(stepGraph(), { backend, name: 'sgd_step' });
  program.write('x', Float32Array.from(X.flat()));
  program.write('y', Float32Array.from(Y));
  program.write('w', Float32Array.of(0.3, -0.2));
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) losses.push((await program.run())[0][0]);
  const want = reference(3);
  expect(losses).toBeAllClose(want.losses, { rtol: 1e-5, atol: 1e-6 });
  expect(await program.read('w')).toBeAllClose(want.w, { rtol: 1e-5, atol: 1e-6 });
  program.dispose();
});

it.each(['interpreter', TEST_BACKEND] as const)('run() starts the run before returning, so the next inputs and run can follow before reading back, on %s', async (backend) => {
  const b = new GraphBuilder();
  const x = b.param('x', [1000]);
  const exe = await compileGraph(b.build([b.mul(x, 2), b.sum(x)]), { backend, name: 'pipelined' });
  const pending = [1, 2, 3].map((v) => {
    exe.write('x', new Float32Array(1000).fill(v));
    return exe.run();
  });
  const results = await Promise.all(pending);
  expect(results.map(([y, total]) => [y[0], y[999], total[0]])).toEqual([[2, 2, 1000], [4, 4, 2000], [6, 6, 3000]]);
  exe.dispose();
});
