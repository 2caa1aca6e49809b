/**
 * compile()'s arguments resolved per model output, as Keras 2 does: a loss,
 * metrics, a loss weight and a sample weight mode each given once (for every
 * output), as a list in output order, or keyed by output name; and Keras's
 * metrics_names (`loss`, `<output>_loss`..., `<output>_<metric>`...).
 */
import type { KFunction } from '../backend.js';
import type { KShape } from '../layers/base.js';
import { type Loss, getLoss } from '../losses.js';
import { type Metric, getMetric } from '../metrics.js';
import type { OutputSetup } from './programs.js';

type PerOutput<T> = T | readonly T[] | Readonly<Record<string, T>>;

export type LossArg = string | Loss | KFunction;
export type MetricArg = string | Metric | KFunction;

export interface OutputArgs {
  readonly loss: PerOutput<LossArg>;
  readonly metrics?: readonly MetricArg[] | readonly (readonly MetricArg[])[] | Readonly<Record<string, MetricArg | readonly MetricArg[]>>;
  readonly lossWeights?: PerOutput<number>;
  readonly sampleWeightMode?: PerOutput<'temporal' | null> | null;
}

function isKeyed(x: unknown): x is Readonly<Record<string, unknown>> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * One value per output from an argument given once, as a list, or keyed by
 * output name. `single` tells a one-value argument from a list (a loss
 * function is not a list; a metrics list is one value).
 */
export function perOutput<T>(what: string, arg: unknown, names: readonly string[], single: (x: unknown) => boolean, fallback?: T): T[] {
  if (arg === undefined || arg === null) {
    if (fallback === undefined) throw new Error(`compile: ${what} is required`);
    return names.map(() => fallback);
  }
  if (single(arg)) return names.map(() => arg as T);
  if (Array.isArray(arg)) {
    if (arg.length !== names.length) {
      throw new Error(`compile: when passing a list as ${what}, it should have one entry per model output. The model has ${names.length} output(s) (${names.join(', ')}), but you passed ${what} with ${arg.length} entries`);
    }
    return arg as T[];
  }
  if (isKeyed(arg)) {
    const unknown = Object.keys(arg).find((k) => !names.includes(k));
    if (unknown !== undefined) throw new Error(`compile: unknown entry in ${what} dictionary: '${unknown}'. Only expected the output names: ${names.join(', ')}`);
    return names.map((n) => {
      if (Object.hasOwn(arg, n)) return arg[n] as T;
      if (fallback !== undefined) return fallback;
      throw new Error(`compile: output '${n}' is missing from the ${what} dictionary (outputs: ${names.join(', ')})`);
    });
  }
  throw new Error(`compile: ${what} must be given once, as a list with one entry per output, or keyed by output name; got ${typeof arg}`);
}

const isLossValue = (x: unknown): boolean => typeof x === 'string' || typeof x === 'function';
const isMetricList = (x: unknown): boolean => Array.isArray(x) && x.every(isLossValue);

/** The per-output training setup and Keras's metrics_names for a model with outputs `names` of shapes `shapes`. */
export function outputSetups(args: OutputArgs, names: readonly string[], shapes: readonly KShape[]): { outputs: OutputSetup[]; metricsNames: string[] } {
  const losses = perOutput<LossArg>('loss', args.loss, names, isLossValue);
  const weights = perOutput<number>('lossWeights', args.lossWeights, names, (x) => typeof x === 'number', 1);
  const modes = perOutput<'temporal' | null>('sampleWeightMode', args.sampleWeightMode, names, (x) => typeof x === 'string', null);
  // A flat metrics list applies to every output (Keras 2); a list of lists or a dict gives each output its own.
  const metricLists = args.metrics === undefined ? names.map(() => []) : isMetricList(args.metrics) ? names.map(() => args.metrics as readonly MetricArg[])
    : perOutput<MetricArg | readonly MetricArg[]>('metrics', args.metrics, names, () => false, []).map((m) => (Array.isArray(m) ? m : [m]) as readonly MetricArg[]);
  const outputs = names.map((name, i): OutputSetup => {
    const shape = shapes[i];
    if (!Number.isFinite(weights[i])) throw new Error(`compile: the loss weight of output '${name}' must be a finite number, got ${String(weights[i])}`);
    const mode = modes[i];
    if (mode && (mode !== 'temporal' || shape.length < 3)) {
      throw new Error(`sampleWeightMode '${mode}' needs the value 'temporal' and an output of rank 3 or more (batch, timesteps, ...); output '${name}' is ${`(None, ${shape.slice(1).join(', ')})`}`);
    }
    const loss = getLoss(losses[i]);
    return { name, loss, lossWeight: weights[i], timesteps: mode === 'temporal' && shape[1] !== null ? Number(shape[1]) : 0, ...(mode === 'temporal' && shape[1] === null ? { temporalAtRunTime: true } : {}), metrics: metricLists[i].map((m) => getMetric(m, loss.name, shape)) };
  });
  const several = names.length > 1;
  const metricsNames = ['loss', ...(several ? names.map((n) => `${n}_loss`) : []), ...outputs.flatMap((o) => o.metrics.map((m) => (several ? `${o.name}_${m.name}` : m.name)))];
  return { outputs, metricsNames };
}
