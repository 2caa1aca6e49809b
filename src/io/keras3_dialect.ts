/**
 * Keras 3 configs in and out. Keras 3 wraps every object as {module,
 * class_name, config, registered_name, build_config}, writes dtypes as
 * DTypePolicy objects, InputLayer shapes as `batch_shape` and inbound nodes
 * as {args, kwargs} holding `__keras_tensor__` records. `toKeras2` rewrites
 * all of that into the Keras 2 JSON the front end reads (and leaves Keras 2
 * configs as they are); `toKeras3` writes a Keras 2 config in Keras 3's
 * dialect for `.keras` files. Both work on snake_case JSON.
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Keys Keras 3 adds that Keras 2 front ends do not read. */
const KERAS3_ONLY = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id', 'build_input_shape']);

export function isKeras3Config(v: unknown): boolean {
  return isObj(v) && ('module' in v || 'registered_name' in v || 'build_config' in v);
}

/** A Keras 2 (snake_case) config from a Keras 3 or Keras 2 one. */
export function toKeras2(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toKeras2);
  if (!isObj(v)) return v;
  const cls = v.class_name;
  if (cls === 'DTypePolicy' || cls === 'FloatDTypePolicy') return isObj(v.config) ? v.config.name : 'float32';
  if (cls === 'function' && typeof v.config === 'string') return v.config;
  if ((cls === 'L1' || cls === 'L2') && isObj(v.config)) {
    const c = v.config;
    return { class_name: 'L1L2', config: { l1: Number(c.l1 ?? 0), l2: Number(c.l2 ?? 0) } };
  }
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (KERAS3_ONLY.has(k)) continue;
    if (k === 'inbound_nodes' && Array.isArray(x)) out[k] = x.map(inboundNodeToKeras2);
    else out[k] = toKeras2(x);
  }
  if (cls === 'InputLayer' && isObj(out.config)) out.config = inputLayerToKeras2(out.config);
  return out;
}

function inputLayerToKeras2(c: Obj): Obj {
  const { batch_shape: batchShape, optional: _optional, ragged: _ragged, ...rest } = c;
  return batchShape !== undefined && rest.batch_input_shape === undefined ? { ...rest, batch_input_shape: batchShape } : rest;
}

/** Keras 3 node {args, kwargs} -> Keras 2 [[layer, node, tensor, kwargs], ...]; masks passed as kwargs are implicit in Keras 2. */
function inboundNodeToKeras2(node: unknown): unknown {
  if (!isObj(node) || !('args' in node)) return toKeras2(node);
  const refs: unknown[][] = [];
  const collect = (a: unknown): void => {
    if (Array.isArray(a)) a.forEach(collect);
    else if (isObj(a) && a.class_name === '__keras_tensor__' && isObj(a.config)) {
      const h = a.config.keras_history;
      if (!Array.isArray(h) || h.length !== 3) throw new Error(`a Keras 3 inbound tensor has keras_history ${JSON.stringify(h)}, expected [layer, node, tensor]`);
      refs.push([h[0], h[1], h[2]]);
    }
  };
  collect(node.args);
  const kwargs: Obj = {};
  if (isObj(node.kwargs)) for (const [k, x] of Object.entries(node.kwargs)) if (!containsTensor(x)) kwargs[k] = toKeras2(x);
  return refs.map((r) => [...r, kwargs]);
}

function containsTensor(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsTensor);
  return isObj(v) && v.class_name === '__keras_tensor__';
}

const MODULES: Readonly<Record<string, string>> = {
  kernel_initializer: 'keras.initializers', bias_initializer: 'keras.initializers', embeddings_initializer: 'keras.initializers',
  recurrent_initializer: 'keras.initializers', gamma_initializer: 'keras.initializers', beta_initializer: 'keras.initializers',
  moving_mean_initializer: 'keras.initializers', moving_variance_initializer: 'keras.initializers', alpha_initializer: 'keras.initializers',
  kernel_regularizer: 'keras.regularizers', bias_regularizer: 'keras.regularizers', activity_regularizer: 'keras.regularizers',
  kernel_constraint: 'keras.constraints', bias_constraint: 'keras.constraints',
};

const wrap = (module: string, className: string, config: unknown): Obj => ({ module, class_name: className, config, registered_name: null });

/** A layer's config in Keras 3's dialect. */
function layerConfigToKeras3(className: string, c: Obj): Obj {
  const out: Obj = {};
  for (const [k, x] of Object.entries(c)) {
    if (k === 'dtype' && typeof x === 'string') out[k] = wrap('keras', 'DTypePolicy', { name: x });
    else if (MODULES[k] && isObj(x) && typeof x.class_name === 'string') out[k] = wrap(MODULES[k], x.class_name, x.config ?? {});
    else out[k] = x;
  }
  if (className === 'InputLayer') {
    const { batch_input_shape: shape, ...rest } = out;
    return { ...rest, batch_shape: shape, dtype: 'float32', sparse: false, ragged: false };
  }
  return out;
}

export interface Keras3Context {
  /** Output shape of a layer's first output (for `__keras_tensor__` records). */
  shapeOf(layerName: string): readonly (number | null)[];
  /** Keras 3 compile_config, or null. */
  compileConfig: Obj | null;
}

/** A Keras 2 model config ({class_name, config}) in Keras 3's dialect, as `.keras` files hold it. */
export function toKeras3(model: Obj, ctx: Keras3Context): Obj {
  const cls = String(model.class_name);
  const config = model.config as Obj;
  const layers = (config.layers as Obj[]).map((l) => {
    const className = String(l.class_name);
    const entry: Obj = { module: 'keras.layers', class_name: className, config: layerConfigToKeras3(className, l.config as Obj), registered_name: null };
    if ('inbound_nodes' in l) {
      entry.name = l.name;
      entry.inbound_nodes = (l.inbound_nodes as unknown[][][]).map((node) => {
        const tensors = node.map((r) => ({ class_name: '__keras_tensor__', config: { shape: ctx.shapeOf(String(r[0])), dtype: 'float32', keras_history: [r[0], r[1], r[2]] } }));
        return { args: tensors.length === 1 ? tensors : [tensors], kwargs: {} };
      });
    }
    return entry;
  });
  if (cls === 'Sequential' && layers.length && (layers[0].class_name as string) !== 'InputLayer') {
    const first = layers[0].config as Obj;
    if (first.batch_input_shape) {
      layers.unshift({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: first.batch_input_shape, dtype: 'float32', sparse: false, ragged: false, name: `${String(config.name)}_input` }, registered_name: null });
      delete first.batch_input_shape;
    }
  }
  const out: Obj = {
    module: 'keras',
    class_name: cls === 'Model' ? 'Functional' : cls,
    config: { ...config, trainable: true, dtype: wrap('keras', 'DTypePolicy', { name: 'float32' }), layers },
    registered_name: cls === 'Model' ? 'Functional' : null,
  };
  if (ctx.compileConfig) out.compile_config = ctx.compileConfig;
  return out;
}
