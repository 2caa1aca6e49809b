/**
 * Bounds on what a model file may ask for, checked before anything is
 * allocated: a config or dataset asking for a 10^12-element weight is an
 * error naming the layer, never an out-of-memory crash or a long hang.
 */

/** Elements in one weight (2^28 float32 values = 1 GiB). */
export const MAX_WEIGHT_ELEMENTS = 2 ** 28;
/** One dimension of a shape in a file. */
export const MAX_DIMENSION = 2 ** 31 - 1;
/** Nesting depth of a JSON/YAML config (Keras configs stay under 20). */
export const MAX_CONFIG_DEPTH = 64;
/** Characters in a JSON/YAML config. */
export const MAX_CONFIG_CHARS = 64 * 2 ** 20;
/** Layers in one model config. */
export const MAX_LAYERS = 100_000;

export function checkDimension(d: unknown, where: string): number {
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DIMENSION) {
    throw new Error(`${where}: dimension ${JSON.stringify(d)} is not an integer between 0 and ${MAX_DIMENSION}`);
  }
  return d;
}

/** Checks every dimension and the element count of `shape` (a weight or dataset). */
export function checkElementCount(shape: readonly unknown[], where: string, limit = MAX_WEIGHT_ELEMENTS): number {
  let n = 1;
  for (const d of shape) n *= checkDimension(d, where);
  if (n > limit) throw new Error(`${where}: shape [${shape.join(', ')}] has ${n} elements, more than the limit of ${limit} (about ${Math.round((limit * 4) / 2 ** 20)} MiB of float32)`);
  return n;
}
