/**
 * keras.wrappers.scikit_learn: KerasClassifier and KerasRegressor. `buildFn`
 * receives the parameters that are not fit/predict/evaluate options and
 * returns a compiled model; fit options (epochs, batchSize, ...) given at
 * construction or with setParams are passed to model.fit, and arguments
 * given to fit itself override them.
 */
import type { History } from '../callbacks.js';
import { Tensor } from '../tensor.js';
import { toCategorical } from '../utils.js';

/** What the wrappers need of a model (Sequential and Model both fit). */
export interface WrappedModel {
  fit(x: Tensor, y: Tensor, args?: Record<string, unknown>): Promise<History>;
  predict(x: Tensor, args?: Record<string, unknown>): Promise<Tensor | Tensor[]>;
  evaluate(x: Tensor, y: Tensor, args?: Record<string, unknown>): Promise<number | number[]>;
  readonly metricsNames: readonly string[];
  readonly outputShapes?: readonly (readonly (number | null)[])[];
}

export type Params = Record<string, unknown>;
export type BuildFn = (params: Params) => WrappedModel | Promise<WrappedModel>;

const FIT_KEYS = ['batchSize', 'epochs', 'verbose', 'callbacks', 'validationSplit', 'validationData', 'shuffle', 'classWeight', 'sampleWeight', 'initialEpoch', 'stepsPerEpoch', 'validationSteps'];
const PREDICT_KEYS = ['batchSize', 'verbose', 'steps'];
const EVALUATE_KEYS = ['batchSize', 'verbose', 'sampleWeight', 'steps'];

function pick(params: Params, keys: readonly string[], override: Params = {}): Params {
  const out: Params = {};
  for (const k of keys) if (k in params) out[k] = params[k];
  for (const [k, v] of Object.entries(override)) if (keys.includes(k)) out[k] = v;
  return out;
}

function single(p: Tensor | Tensor[], what: string): Tensor {
  if (p instanceof Tensor) return p;
  if (p.length === 1) return p[0];
  throw new Error(`${what}: the wrapped model has ${p.length} outputs; the scikit-learn wrappers need a model of one output`);
}

abstract class BaseWrapper {
  model: WrappedModel | null = null;
  protected params: Params;

  constructor(readonly buildFn: BuildFn, params: Params = {}) {
    if (typeof buildFn !== 'function') throw new Error(`${new.target.name}: buildFn must be a function returning a compiled model, got ${typeof buildFn}`);
    this.params = { ...params };
  }

  getParams(): Params {
    return { ...this.params, buildFn: this.buildFn };
  }

  setParams(params: Params): this {
    if ('buildFn' in params) throw new Error(`${this.constructor.name}.setParams: buildFn cannot be changed; make a new wrapper`);
    Object.assign(this.params, params);
    return this;
  }

  /** A new, unfitted wrapper with the same buildFn and parameters (scikit-learn's clone). */
  clone(): this {
    return new (this.constructor as new (b: BuildFn, p: Params) => this)(this.buildFn, { ...this.params });
  }

  protected buildParams(): Params {
    return Object.fromEntries(Object.entries(this.params).filter(([k]) => !FIT_KEYS.includes(k) && !PREDICT_KEYS.includes(k) && !EVALUATE_KEYS.includes(k)));
  }

  protected fitted(what: string): WrappedModel {
    if (!this.model) throw new Error(`${this.constructor.name}.${what}: call fit() first`);
    return this.model;
  }

  protected async fitModel(x: Tensor, y: Tensor, args: Params): Promise<History> {
    this.model = await this.buildFn(this.buildParams());
    return this.model.fit(x, y, { ...pick(this.params, FIT_KEYS), ...args });
  }
}

/** Class labels of any values (sorted unique, as np.unique) and each sample's position among them. */
function encodeLabels(y: Tensor): { classes: number[]; indices: Int32Array } {
  if (y.shape.length > 2 || (y.shape.length === 2 && y.shape[1] !== 1)) throw new Error(`KerasClassifier: invalid shape for y: [${y.shape.join(', ')}]`);
  const classes = [...new Set(Array.from(y.data, Number))].sort((a, b) => a - b);
  const at = new Map(classes.map((c, i) => [c, i]));
  return { classes, indices: Int32Array.from(y.data, (v) => at.get(Number(v))!) };
}

export class KerasClassifier extends BaseWrapper {
  classes: number[] = [];

  get nClasses(): number {
    return this.classes.length;
  }

  /** One-hot targets when the model ends in more than one unit (categorical_crossentropy), else class indices. */
  private targets(model: WrappedModel, indices: Int32Array): Tensor {
    const width = model.outputShapes?.[0]?.at(-1) ?? 1;
    const labels = new Tensor(Float32Array.from(indices), [indices.length]);
    return width !== null && width > 1 ? toCategorical(labels, width) : labels;
  }

  async fit(x: Tensor, y: Tensor, args: Params = {}): Promise<History> {
    let indices: Int32Array;
    if (y.shape.length === 2 && y.shape[1] > 1) {
      this.classes = Array.from({ length: y.shape[1] }, (_, i) => i);
      return this.fitModel(x, y, args);
    }
    ({ classes: this.classes, indices } = encodeLabels(y));
    this.model = await this.buildFn(this.buildParams());
    return this.model.fit(x, this.targets(this.model, indices), { ...pick(this.params, FIT_KEYS), ...args });
  }

  /** Class probabilities; a single sigmoid unit becomes two columns [1 - p, p]. */
  async predictProba(x: Tensor, args: Params = {}): Promise<Tensor> {
    const p = single(await this.fitted('predictProba').predict(x, pick(this.params, PREDICT_KEYS, args)), 'predictProba');
    if (p.shape[1] !== 1) return p;
    return new Tensor(Float32Array.from({ length: p.size * 2 }, (_, i) => (i % 2 ? p.data[i >> 1] : 1 - p.data[i >> 1])), [p.shape[0], 2]);
  }

  /** The predicted class labels (in the label values fit saw). */
  async predict(x: Tensor, args: Params = {}): Promise<Tensor> {
    const p = await this.predictProba(x, args);
    const k = p.shape[1];
    const out = new Float32Array(p.shape[0]);
    for (let r = 0; r < p.shape[0]; r++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (p.data[r * k + j] > p.data[r * k + best]) best = j;
      out[r] = this.classes[best];
    }
    return new Tensor(out, [p.shape[0]]);
  }

  /** The accuracy metric on (x, y); the model must be compiled with metrics: ['accuracy']. */
  async score(x: Tensor, y: Tensor, args: Params = {}): Promise<number> {
    const model = this.fitted('score');
    const at = new Map(this.classes.map((c, i) => [c, i]));
    const target = y.shape.length === 2 && y.shape[1] > 1 ? y : this.targets(model, Int32Array.from(y.data, (v, i) => {
      const c = at.get(Number(v));
      if (c === undefined) throw new Error(`KerasClassifier.score: label ${v} at ${i} was not seen by fit (classes: ${this.classes.join(', ')})`);
      return c;
    }));
    const out = await model.evaluate(x, target, pick(this.params, EVALUATE_KEYS, args));
    const values = Array.isArray(out) ? out : [out];
    const i = model.metricsNames.findIndex((m) => m === 'acc' || m === 'accuracy');
    if (i < 0) throw new Error(`KerasClassifier.score: the model is not configured to compute accuracy; pass metrics: ['accuracy'] to model.compile() (it computes ${model.metricsNames.join(', ')})`);
    return values[i];
  }
}

export class KerasRegressor extends BaseWrapper {
  async fit(x: Tensor, y: Tensor, args: Params = {}): Promise<History> {
    return this.fitModel(x, y, args);
  }

  /** Predictions with unit axes squeezed (np.squeeze). */
  async predict(x: Tensor, args: Params = {}): Promise<Tensor> {
    const p = single(await this.fitted('predict').predict(x, pick(this.params, PREDICT_KEYS, args)), 'predict');
    return new Tensor(p.data, p.shape.filter((d) => d !== 1), p.dtype);
  }

  /** Minus the loss on (x, y): greater is better, as scikit-learn scores are. */
  async score(x: Tensor, y: Tensor, args: Params = {}): Promise<number> {
    const out = await this.fitted('score').evaluate(x, y, pick(this.params, EVALUATE_KEYS, args));
    return -(Array.isArray(out) ? out[0] : out);
  }
}
