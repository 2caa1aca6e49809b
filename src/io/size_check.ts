/**
 * Checks a (Keras 2, snake_case) model config before any layer is built:
 * every shape dimension and size field is an integer in range, and the
 * weights each layer would create stay under MAX_WEIGHT_ELEMENTS. Feature
 * widths are followed through the graph (last axis and total size per layer
 * output) well enough to size the weights of the layers that have them.
 */
import { MAX_LAYERS, MAX_WEIGHT_ELEMENTS, checkDimension } from './limits.js';

type Obj = Record<string, unknown>;

interface Features {
  /** Last-axis size. */
  readonly width: number;
  /** Elements per sample. */
  readonly total: number;
}

const SHAPE_FIELDS = ['batch_input_shape', 'batch_shape', 'input_shape', 'target_shape', 'dims', 'kernel_size', 'pool_size', 'strides', 'size', 'dilation_rate'];
const SIZE_FIELDS = ['units', 'filters', 'input_dim', 'output_dim', 'n', 'input_length', 'depth_multiplier'];

function checkFields(c: Obj, where: string): void {
  for (const f of SHAPE_FIELDS) {
    const v = c[f];
    if (v === undefined || v === null) continue;
    const list = Array.isArray(v) ? v : [v];
    list.forEach((d, i) => {
      if (d !== null && !(f === 'target_shape' && d === -1)) checkDimension(d, `${where}: ${f}[${i}]`);
    });
  }
  for (const f of SIZE_FIELDS) if (c[f] !== undefined && c[f] !== null) checkDimension(c[f], `${where}: ${f}`);
}

const num = (v: unknown, fallback = 1): number => (typeof v === 'number' ? v : fallback);
const prod = (v: unknown): number => (Array.isArray(v) ? v.reduce((a: number, b) => a * num(b), 1) : num(v));

function inputFeatures(c: Obj): Features | null {
  const shape = (c.batch_input_shape ?? c.batch_shape) as unknown[] | undefined;
  if (Array.isArray(shape) && shape.length > 1) return { width: num(shape[shape.length - 1]), total: prod(shape.slice(1)) };
  if (c.input_dim !== undefined && c.input_dim !== null) return { width: num(c.input_dim), total: num(c.input_dim) };
  return null;
}

/** The largest weight a layer creates for input features `f`, and its output features. */
function weighLayer(cls: string, c: Obj, f: Features): { weight: number; out: Features } {
  const units = num(c.units, 0);
  const gates: Readonly<Record<string, number>> = { LSTM: 4, GRU: 3, SimpleRNN: 1, CuDNNLSTM: 4, CuDNNGRU: 3 };
  if (cls === 'Dense') return { weight: f.width * units, out: { width: units, total: (f.total / Math.max(f.width, 1)) * units } };
  if (cls === 'Embedding') return { weight: num(c.input_dim) * num(c.output_dim), out: { width: num(c.output_dim), total: f.total * num(c.output_dim) } };
  if (gates[cls]) return { weight: gates[cls] * units * Math.max(f.width, units), out: { width: units, total: c.return_sequences ? (f.total / Math.max(f.width, 1)) * units : units } };
  if (/^(Conv|SeparableConv|DepthwiseConv|LocallyConnected)/.test(cls)) {
    const filters = num(c.filters, f.width * num(c.depth_multiplier));
    const weight = prod(c.kernel_size) * f.width * filters;
    return { weight, out: { width: filters, total: (f.total / Math.max(f.width, 1)) * filters } };
  }
  if (cls === 'Flatten') return { weight: 0, out: { width: f.total, total: f.total } };
  if (cls === 'Reshape' && Array.isArray(c.target_shape)) return { weight: 0, out: { width: num(c.target_shape[c.target_shape.length - 1], f.width), total: f.total } };
  if (cls === 'RepeatVector') return { weight: 0, out: { width: f.width, total: f.total * num(c.n) } };
  return { weight: f.width, out: f };
}

/** Throws if a layer of `modelConfig` ({class_name, config}) is out of bounds. */
export function checkModelSizes(modelConfig: Obj, where: string): void {
  const config = modelConfig.config as Obj | Obj[] | undefined;
  const layers = (Array.isArray(config) ? config : config?.layers) as unknown;
  if (!Array.isArray(layers)) return;
  if (layers.length > MAX_LAYERS) throw new Error(`${where}: ${layers.length} layers, more than the limit of ${MAX_LAYERS}`);
  const byName = new Map<string, Features>();
  let previous: Features | null = null;
  for (const entry of layers as Obj[]) {
    if (!entry || typeof entry !== 'object') throw new Error(`${where}: a layer entry is ${JSON.stringify(entry)}, expected {class_name, config}`);
    const cls = String(entry.class_name);
    const c = (entry.config ?? {}) as Obj;
    const name = String(entry.name ?? c.name ?? cls);
    const label = `${where}: layer '${name}' (${cls})`;
    checkFields(c, label);
    let f = inputFeatures(c);
    const nodes = entry.inbound_nodes as unknown[] | undefined;
    if (!f && Array.isArray(nodes) && Array.isArray(nodes[0])) {
      const inputs = (nodes[0] as unknown[]).map((r) => (Array.isArray(r) ? byName.get(String(r[0])) : undefined));
      if (inputs.length && inputs.every((x) => x)) f = inputs.reduce((a, b) => ({ width: a!.width + b!.width, total: a!.total + b!.total }))!;
    } else if (!f && !nodes) f = previous;
    if (f) {
      const { weight, out } = weighLayer(cls, c, f);
      if (weight > MAX_WEIGHT_ELEMENTS) throw new Error(`${label} would create a weight of ${weight} elements, more than the limit of ${MAX_WEIGHT_ELEMENTS}`);
      previous = out;
      byName.set(name, out);
    } else previous = null;
  }
}
