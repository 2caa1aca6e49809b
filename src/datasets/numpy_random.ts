/**
 * numpy's legacy RandomState: MT19937 seeded as `np.random.seed(int)` and
 * `np.random.shuffle` of a 1-d array. The Keras loaders shuffle with it
 * (seed 113), so the same seed gives the same order as Keras.
 */
export class NumpyRandomState {
  private readonly mt = new Uint32Array(624);
  private pos = 624;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer between 0 and 2**32 - 1, got ${seed}`);
    let s = seed >>> 0;
    for (let i = 0; i < 624; i++) {
      this.mt[i] = s;
      s = (Math.imul(1812433253, s ^ (s >>> 30)) + i + 1) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.pos = 0;
  }

  uint32(): number {
    if (this.pos >= 624) this.twist();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max], by masked rejection as numpy's random_interval. */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new Error(`NumpyRandomState.interval: ${max} is beyond 32 bits`);
    let mask = max;
    for (const s of [1, 2, 4, 8, 16]) mask |= mask >>> s;
    mask >>>= 0;
    for (;;) {
      const v = (this.uint32() & mask) >>> 0;
      if (v <= max) return v;
    }
  }

  /** np.random.random_sample(): 53 random bits from two draws. */
  random(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** np.random.uniform(low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** np.random.randint(low, high): an integer in [low, high). */
  randint(low: number, high: number): number {
    if (!(high > low)) throw new Error(`randint: high (${high}) must exceed low (${low})`);
    return low + this.interval(high - low - 1);
  }

  /** np.random.shuffle of a 1-d array, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.interval(i);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** np.random.permutation(n). */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
