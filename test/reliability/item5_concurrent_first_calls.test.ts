/** Issue 10, item 5: concurrent first calls on a new model share the in-flight allocation and compiles. */
import { describe, expect, it } from 'vitest';
import { features, issueModel } from './helpers.js';
import { SharedState } from '../../runtime/shared_state.js';

describe('item 5: concurrent first calls', () => {
  it('Promise.all of predicts with batch sizes 1, 2, 8, 32 on a new model all resolve, with the sequential results', async () => {
    const x = features(40);
    const sizes = [1, 2, 8, 32];
    const m = issueModel('categorical_crossentropy', 'cpu');
    const together = await Promise.all(sizes.map((batchSize) => m.predict(x, { batchSize })));
    const fresh = issueModel('categorical_crossentropy', 'cpu');
    fresh.setWeights(m.getWeights());
    for (const [i, batchSize] of sizes.entries()) {
      const alone = await fresh.predict(x, { batchSize });
      expect(together[i].shape).toEqual([40, 4]);
      expect(together[i].data).toBeAllClose(alone.data, { atol: 1e-6, rtol: 1e-6 });
    }
    m.dispose();
    fresh.dispose();
  });

  it('two concurrent predicts of the same batch size compile once', async () => {
    const m = issueModel('categorical_crossentropy', 'interpreter');
    const x = features(8);
    const [a, b] = await Promise.all([m.predict(x, { batchSize: 8 }), m.predict(x, { batchSize: 8 })]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it('a shared arena is allocated once for concurrent callers', async () => {
    const state = new SharedState([{ name: 'w', dtype: 'float32', size: 4 }]);
    let allocations = 0;
    const alloc = async (bytes: number) => {
      allocations++;
      await new Promise((r) => setTimeout(r, 10));
      const buffer = new ArrayBuffer(bytes);
      return { bytes, buffer, handle: null, dispose() {} };
    };
    const memories = await Promise.all([1, 2, 3].map(() => state.memoryFor('cpu', alloc)));
    expect(allocations).toBe(1);
    expect(memories[1]).toBe(memories[0]);
    expect(memories[2]).toBe(memories[0]);
    await expect(state.memoryFor('webgpu', alloc)).rejects.toThrow(/state lives on 'cpu'/);
  });
});
