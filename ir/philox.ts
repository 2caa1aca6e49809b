/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
 * Kiln's only source of randomness: value = f(key, counter), so any element of
 * a random tensor can be computed independently, on any backend, in any order.
 *
 * Kiln's use: key = (seed, 0), counter = (elementIndex, step, 0, 0); a uniform
 * float32 in [0, 1) is (first output word >>> 8) * 2^-24.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

const TWO_16 = 0x10000;
const TWO_32 = 0x100000000;

/** High and low 32 bits of the 64-bit product of two uint32, in 16-bit limbs (every partial product is exact in a double; no BigInt). */
function mulHiLo(a: number, b: number): [number, number] {
  const ah = a >>> 16;
  const al = a & 0xffff;
  const bh = b >>> 16;
  const bl = b & 0xffff;
  const hi = (ah * bh + Math.floor(((ah * bl + al * bh) * TWO_16 + al * bl) / TWO_32)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

export function philox4x32(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((c) => c >>> 0);
  let [k0, k1] = key.map((k) => k >>> 0);
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulHiLo(M0, c0);
    const [hi1, lo1] = mulHiLo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Uniform float32 in [0, 1) for element `index` of a random tensor at `step`. */
export function philoxUniform(seed: number, step: number, index: number): number {
  const [w] = philox4x32([index, step, 0, 0], [seed, 0]);
  return (w >>> 8) * 2 ** -24;
}
