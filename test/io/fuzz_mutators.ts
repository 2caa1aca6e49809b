/**
 * Seeded mutators for the model-file fuzz test: byte-level damage (bit
 * flips, truncation, overwritten runs, all-ones words that read as huge
 * sizes, inserted and deleted ranges) and config-level damage (wrong types,
 * huge and negative numbers, missing keys, cyclic and dangling inbound
 * nodes, prototype keys, unknown classes, deep nesting).
 */

/** mulberry32, the seeded generator training shuffles with. */
export { makeRandom as rng } from '../../src/training/data.js';

const int = (r: () => number, n: number): number => Math.floor(r() * n);

export function mutateBytes(src: Uint8Array, r: () => number): Uint8Array {
  const b = Uint8Array.from(src);
  switch (int(r, 6)) {
    case 0: {
      const flips = 1 + int(r, 8);
      for (let i = 0; i < flips; i++) b[int(r, b.length)] ^= 1 << int(r, 8);
      return b;
    }
    case 1:
      return b.subarray(0, int(r, b.length));
    case 2: {
      const at = int(r, b.length);
      b.fill(int(r, 256), at, at + 1 + int(r, 64));
      return b;
    }
    case 3: {
      // A word of all ones: a length, dimension or address that reads as huge.
      const at = int(r, Math.max(1, b.length - 8));
      b.fill(0xff, at, at + (r() < 0.5 ? 4 : 8));
      return b;
    }
    case 4: {
      const at = int(r, b.length);
      const junk = Uint8Array.from({ length: 1 + int(r, 256) }, () => int(r, 256));
      return Uint8Array.from([...b.subarray(0, at), ...junk, ...b.subarray(at)]);
    }
    default: {
      const at = int(r, b.length);
      return Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + int(r, 512)))]);
    }
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const REPLACEMENTS: ((r: () => number) => Json)[] = [
  () => 1e12, () => -1, () => 2.5, () => 1e308, () => 0, () => 2 ** 31,
  () => 'x', () => '', () => null, () => true, () => [], () => ({}),
  () => [null, 1e9, 1e9], () => ({ class_name: 'Lambda', config: { function: ['AAAA', null, null], function_type: 'lambda' } }),
  (r) => ['Dense', 'Conv2D', 'Lambda', 'toString', 'Sequential', 'Model', '__keras_tensor__'][int(r, 7)],
];

/** Every [container, key] in `root`, for picking a place to damage. */
function slots(root: Json): [Json[] | Record<string, Json>, string | number][] {
  const out: [Json[] | Record<string, Json>, string | number][] = [];
  const stack: Json[] = [root];
  while (stack.length) {
    const v = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), stack.push(x)));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) (out.push([v, k]), stack.push(v[k]));
  }
  return out;
}

export function mutateConfig(src: Json, r: () => number): Json {
  const root = JSON.parse(JSON.stringify(src)) as Json;
  const all = slots(root);
  const [container, key] = all[int(r, all.length)];
  const kind = int(r, 7);
  if (kind <= 2) (container as Record<string, Json>)[key as string] = REPLACEMENTS[int(r, REPLACEMENTS.length)](r);
  else if (kind === 3 && !Array.isArray(container)) delete container[key as string];
  else if (kind === 4) {
    // Inbound nodes that point at a later layer, the layer itself, or nothing.
    const refs = all.filter(([c, k]) => k === 0 && Array.isArray(c) && typeof c[0] === 'string' && c.length === 4);
    if (refs.length) (refs[int(r, refs.length)][0] as Json[])[0] = ['dense_1', 'cls', 'reg', 'missing', 'concatenate', 'a'][int(r, 6)];
  } else if (kind === 5) {
    let deep: Json = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    (container as Record<string, Json>)[key as string] = deep;
  } else if (!Array.isArray(container)) {
    return JSON.parse(JSON.stringify(root).replace(`"${String(key)}":`, '"__proto__":')) as Json;
  }
  return root;
}
