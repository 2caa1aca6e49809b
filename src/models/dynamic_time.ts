/**
 * Models whose inputs have timesteps=None (input shape [null, features], or
 * Embedding's [null]): one program per capacity of steps runs every shorter
 * length. The host pads the time axis (axis 1) of the inputs (and of
 * sequence targets) with zeros up to the capacity, writes the real length
 * into the int32 param `timesteps`, the recurrent layers' scans run that
 * many steps, and sequence outputs are cut back to it. A longer sequence
 * than any program holds compiles one more, for the next power of two.
 */
import type { Graph } from '../../ir/graph.js';
import { type KShape, type Layer, shapeText } from '../layers/base.js';
import { Tensor } from '../tensor.js';

/** Layers that treat every time step alike (or scan over them), so padding past the real length changes nothing before it. */
const PER_STEP = new Set([
  'InputLayer', 'Dense', 'Activation', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'ReLU', 'Softmax', 'Embedding', 'Masking',
  'Dropout', 'SpatialDropout1D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout',
  'Add', 'Subtract', 'Multiply', 'Maximum', 'Minimum', 'Average', 'Concatenate',
  'SimpleRNN', 'GRU', 'LSTM', 'CuDNNGRU', 'CuDNNLSTM', 'RNN', 'ConvLSTM2D', 'Bidirectional', 'TimeDistributed', 'Sequential', 'Model',
]);

/** Whether a shape has a time axis of unknown length (axis 1 null, the batch axis aside). */
export function hasRuntimeSteps(shape: KShape): boolean {
  return shape.length >= 2 && shape[1] === null;
}

/** Refuses a layer that would mix padded steps into real ones (Flatten, Conv1D, pooling over time, ...). */
export function checkPerStep(layer: Layer, inputShapes: readonly KShape[]): void {
  const dynamic = inputShapes.filter(hasRuntimeSteps);
  if (!dynamic.length) return;
  const axis = (layer as { axis?: unknown }).axis;
  const joinsTime = layer.className === 'Concatenate' && typeof axis === 'number' && (axis === 1 || axis === 1 - dynamic[0].length);
  if (PER_STEP.has(layer.className) && !joinsTime) return;
  throw new Error(`${layer.className} ${layer.name}: its input ${shapeText(dynamic[0])} has an unknown number of time steps (timesteps=None), which Kiln runs padded to a capacity; this layer mixes time steps, so padding would change its result. Give the sequence length in the input shape, or use layers that work step by step (${[...PER_STEP].slice(1, 8).join(', ')}, recurrent layers, TimeDistributed, ...)`);
}

/** The capacity a run of `steps` steps uses: the smallest one compiled that holds it, else the next power of two. */
export function chooseCapacity(steps: number, compiled: ReadonlySet<number>): number {
  const fits = [...compiled].filter((c) => c >= steps).sort((a, b) => a - b);
  return fits[0] ?? 2 ** Math.ceil(Math.log2(Math.max(steps, 1)));
}

/** The common length of the inputs' unknown time axes; an error names the inputs if they differ. */
export function stepsOf(model: string, xs: readonly Tensor[], shapes: readonly KShape[]): number {
  const lengths = xs.flatMap((t, i) => (hasRuntimeSteps(shapes[i]) ? [t.shape[1]] : []));
  if (lengths.some((n) => n !== lengths[0])) throw new Error(`Model ${model}: inputs with timesteps=None must share one sequence length per call, got lengths ${lengths.join(', ')}`);
  return lengths[0];
}

/** `t` with its axis 1 zero-padded to `capacity` steps. */
export function padSteps(t: Tensor, capacity: number): Tensor {
  const [n, steps, ...rest] = t.shape;
  if (steps === capacity) return t;
  const row = rest.reduce((p, q) => p * q, 1);
  const out = new (t.data.constructor as Float32ArrayConstructor)(n * capacity * row);
  for (let i = 0; i < n; i++) out.set(t.data.subarray(i * steps * row, (i + 1) * steps * row), i * capacity * row);
  return new Tensor(out, [n, capacity, ...rest], t.dtype);
}

/** The first `steps` entries of `t`'s axis 1. */
export function cutSteps(t: Tensor, steps: number): Tensor {
  const [n, capacity, ...rest] = t.shape;
  if (steps === capacity) return t;
  const row = rest.reduce((p, q) => p * q, 1);
  const out = new (t.data.constructor as Float32ArrayConstructor)(n * steps * row);
  for (let i = 0; i < n; i++) out.set(t.data.subarray(i * capacity * row, (i * capacity + steps) * row), i * steps * row);
  return new Tensor(out, [n, steps, ...rest], t.dtype);
}

/** Whether a graph reads the run-time sequence length (param `timesteps`). */
export function readsTimesteps(graph: Graph): boolean {
  return graph.nodes.some((n) => n.op === 'param' && (n.attrs as { name: string }).name === 'timesteps');
}
