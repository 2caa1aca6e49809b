/**
 * `expect(got).toBeAllClose(want, { rtol, atol })`: elementwise
 * |got - want| <= atol + rtol * |want| (NaN matches NaN), reporting the first
 * element that is off. Registered for every test file by vitest.config.ts.
 */
import { expect } from 'vitest';
import { closeTo } from './nd.js';

interface Tolerance {
  readonly rtol?: number;
  readonly atol?: number;
}

expect.extend({
  toBeAllClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance = {}) {
    const error = closeTo(got, want, tol.rtol ?? 1e-5, tol.atol ?? 1e-6);
    return {
      pass: error === null,
      message: () => (error === null ? 'expected arrays to differ' : `arrays differ at ${error}`),
    };
  },
});

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- must match vitest's own declaration to merge with it
  interface Matchers<T = any> {
    toBeAllClose(want: ArrayLike<number>, tol?: Tolerance): T;
  }
}
