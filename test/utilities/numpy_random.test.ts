/** numpy's legacy RandomState, against values numpy 2.4 printed for the same seeds. */
import { describe, expect, it } from 'vitest';
import { NumpyRandomState } from '../../src/datasets/numpy_random.js';

describe('NumpyRandomState', () => {
  it('matches np.random.seed(113) draws, shuffle and permutation', () => {
    // np.random.RandomState(113).randint(0, 2**32, dtype=np.uint64) twice
    const r = new NumpyRandomState(113);
    expect([r.uint32(), r.uint32()]).toEqual([3659249829, 529109724]);
    // np.random.seed(113); a = np.arange(10); np.random.shuffle(a)
    expect(new NumpyRandomState(113).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([9, 3, 6, 1, 0, 7, 4, 8, 2, 5]);
    expect(new NumpyRandomState(113).permutation(7)).toEqual([1, 3, 0, 6, 2, 4, 5]);
    // rs = np.random.RandomState(7); rs.random_sample(), rs.uniform(-30, 30), rs.randint(0, 5), rs.randint(0, 10**7), rs.choice([-1, 1])
    const s = new NumpyRandomState(7);
    expect([s.random(), s.uniform(-30, 30), s.randint(0, 5), s.randint(0, 1e7), [-1, 1][s.randint(0, 2)]]).toEqual([0.07630828937395717, 16.79512753440688, 3, 7131347, 1]);
    expect(() => new NumpyRandomState(-1)).toThrow(/seed must be an integer between 0 and 2\*\*32 - 1, got -1/);
  });
});
