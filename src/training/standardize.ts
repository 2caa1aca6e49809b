/**
 * Keras's standardize_input_data: the data of a model's inputs (or targets,
 * or sample weights) given as one array, a list in the model's order, or an
 * object keyed by input (output) name, as one tensor per input (output).
 */
import { Tensor, type NestedArray, type TypedArray } from '../tensor.js';
import { dataTensor } from '../validation.js';

export type Data = Tensor | TypedArray | NestedArray;
/** One array, a list of arrays, or arrays keyed by input/output name. */
export type DataList = Data | readonly Data[] | Readonly<Record<string, Data>>;

function isKeyed(x: unknown): x is Readonly<Record<string, Data>> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor) && !ArrayBuffer.isView(x);
}

const isArrayLike = (x: unknown): boolean => x instanceof Tensor || ArrayBuffer.isView(x);

/** The arrays of `data` as a list; a nested array is one array unless the model has several inputs. */
function asList(data: DataList, count: number): readonly Data[] {
  if (!Array.isArray(data)) return [data as Data];
  if (count > 1) return data as readonly Data[];
  const list = data as readonly unknown[];
  return list.length > 0 && list.every(isArrayLike) ? (list as readonly Data[]) : [data as Data];
}

/**
 * One tensor per name of `names`, in order. `what` is 'input', 'target' or
 * 'sample weight' (for the messages); `where` names the entry point.
 */
export function standardize(where: string, what: string, data: DataList, names: readonly string[]): Tensor[] {
  if (isKeyed(data)) {
    const unknown = Object.keys(data).filter((k) => !names.includes(k));
    if (unknown.length) throw new Error(`${where}: no model ${what} is named '${unknown[0]}'; the model's ${what}s are: ${names.join(', ')}`);
    return names.map((n) => {
      if (!Object.hasOwn(data, n)) throw new Error(`${where}: no data for the model ${what} '${n}'; the model's ${what}s are: ${names.join(', ')}`);
      return dataTensor(where, `${what} '${n}'`, data[n]);
    });
  }
  const list = asList(data, names.length);
  if (list.length !== names.length) {
    throw new Error(`${where}: error when checking model ${what}: the list of arrays passed is not the size the model expected. Expected to see ${names.length} array(s) (${names.join(', ')}), but instead got ${list.length}`);
  }
  return list.map((d, i) => dataTensor(where, names.length === 1 ? (what === 'input' ? 'x' : what === 'target' ? 'y' : what) : `${what} '${names[i]}'`, d));
}

/** Program parameter names for n inputs (targets, ...): `input` alone, else `input_0`, `input_1`, ... */
export function paramNames(base: string, n: number): string[] {
  return n === 1 ? [base] : Array.from({ length: n }, (_, i) => `${base}_${i}`);
}
