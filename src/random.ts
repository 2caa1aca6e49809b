/**
 * Philox uniforms for host-side work (initializers), bit for bit the values of
 * ir/philox.ts's philoxUniform, computed with 16-bit limbs instead of BigInt:
 * many times faster, which is the difference between milliseconds and
 * seconds for a 784x512 kernel.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_16 = 0x10000;
const TWO_32 = 0x100000000;

/** High 32 bits of the 64-bit product of two uint32 (every partial product is exact in a double). */
function mulHi(a: number, b: number): number {
  const ah = a >>> 16;
  const al = a & 0xffff;
  const bh = b >>> 16;
  const bl = b & 0xffff;
  return (ah * bh + Math.floor(((ah * bl + al * bh) * TWO_16 + al * bl) / TWO_32)) >>> 0;
}

/** First output word of Philox4x32-10 for counter (index, step, 0, 0) and key (seed, 0). */
function philoxWord0(seed: number, step: number, index: number): number {
  let c0 = index >>> 0;
  let c1 = step >>> 0;
  let c2 = 0;
  let c3 = 0;
  let k0 = seed >>> 0;
  let k1 = 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return c0;
}

/** Uniform float32 in [0, 1) for element `index` of stream `step` under `seed` (= ir/philox.ts philoxUniform). */
export function uniformAt(seed: number, step: number, index: number): number {
  return (philoxWord0(seed, step, index) >>> 8) * 2 ** -24;
}
