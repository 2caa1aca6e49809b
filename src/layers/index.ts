/** The `layers` namespace and the registry that deserialization looks classes up in. */
import { Layer } from './base.js';
import { checkLayerConfig, describeValue, ownEntry } from '../validation.js';
import { Activation, ActivityRegularization, Dense, Flatten, InputLayer, Permute, RepeatVector, Reshape } from './core.js';
import { ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU } from './advanced_activations.js';
import { AlphaDropout, Dropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D } from './noise.js';
import { Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract } from './merge.js';

export { Layer, Node, SymbolicTensor } from './base.js';
export type { CallContext, KShape, LayerArgs, Weight } from './base.js';
export { Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum, minimum, multiply, subtract } from './merge.js';
export {
  Activation, ActivityRegularization, AlphaDropout, Dense, Dropout, ELU, Flatten, GaussianDropout, GaussianNoise, InputLayer, LeakyReLU, PReLU, Permute,
  ReLU, RepeatVector, Reshape, Softmax, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, ThresholdedReLU,
};

type Config = Record<string, unknown> & { name?: string };

/** Builds a layer from its (camelCase) Keras config; positional Keras arguments come first. */
export const LAYER_CLASSES: Readonly<Record<string, (c: Config) => Layer>> = {
  InputLayer: (c) => new InputLayer(c),
  Dense: (c) => new Dense(c.units as number, c),
  Activation: (c) => new Activation(c.activation as string, c),
  ActivityRegularization: (c) => new ActivityRegularization(c),
  Dropout: (c) => new Dropout(c.rate as number, c),
  SpatialDropout1D: (c) => new SpatialDropout1D(c.rate as number, c),
  SpatialDropout2D: (c) => new SpatialDropout2D(c.rate as number, c),
  SpatialDropout3D: (c) => new SpatialDropout3D(c.rate as number, c),
  AlphaDropout: (c) => new AlphaDropout(c.rate as number, c),
  GaussianDropout: (c) => new GaussianDropout(c.rate as number, c),
  GaussianNoise: (c) => new GaussianNoise(c.stddev as number, c),
  Flatten: (c) => new Flatten(c),
  Reshape: (c) => new Reshape(c.targetShape as number[], c),
  Permute: (c) => new Permute(c.dims as number[], c),
  RepeatVector: (c) => new RepeatVector(c.n as number, c),
  LeakyReLU: (c) => new LeakyReLU(c),
  PReLU: (c) => new PReLU(c),
  ELU: (c) => new ELU(c),
  ThresholdedReLU: (c) => new ThresholdedReLU(c),
  ReLU: (c) => new ReLU(c),
  Softmax: (c) => new Softmax(c),
  Add: (c) => new Add(c),
  Subtract: (c) => new Subtract(c),
  Multiply: (c) => new Multiply(c),
  Average: (c) => new Average(c),
  Maximum: (c) => new Maximum(c),
  Minimum: (c) => new Minimum(c),
  Concatenate: (c) => new Concatenate(c),
  Dot: (c) => new Dot(c.axes as number | number[], c),
};

export function layerFromConfig(className: string, config: Config): Layer {
  const make = ownEntry(LAYER_CLASSES, className);
  if (!make) throw new Error(`Unknown layer class ${typeof className === 'string' ? `'${className}'` : describeValue(className)}. Valid layer classes: ${Object.keys(LAYER_CLASSES).sort().join(', ')}`);
  checkLayerConfig(className, config);
  return make(config);
}
