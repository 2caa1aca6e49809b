/** The `layers` namespace and the registry that deserialization looks classes up in. */
import { Layer } from './base.js';
import * as self from './index.js';
import { BUILT_IN_LAYERS, restoringLayer } from './layer_options.js';
import { checkLayerConfig, describeValue, ownEntry } from '../validation.js';
import { Activation, ActivityRegularization, Dense, Flatten, InputLayer, Permute, RepeatVector, Reshape } from './core.js';
import { ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU } from './advanced_activations.js';
import { AlphaDropout, Dropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D } from './noise.js';
import * as conv from './convolutional.js';
import * as pooling from './pooling.js';
import { BatchNormalization } from './normalization.js';
import { Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract } from './merge.js';
import { Lambda } from './lambda.js';
import { Embedding, Masking } from './embeddings.js';
import { Bidirectional, TimeDistributed } from './wrappers.js';
import { GRU, LSTM, SimpleRNN } from './recurrent.js';
import { RNN, cellFromConfig } from './recurrent_rnn.js';
import { CuDNNGRU, CuDNNLSTM } from './recurrent_cudnn.js';
import { ConvLSTM2D } from './convolutional_recurrent.js';

export { Layer, Node, SymbolicTensor } from './base.js';
export type { CallContext, KShape, LayerArgs, Weight } from './base.js';
export { Lambda } from './lambda.js';
export { Embedding, Masking } from './embeddings.js';
export { Bidirectional, TimeDistributed } from './wrappers.js';
export type { BidirectionalArgs, MergeMode } from './wrappers.js';
export { GRU, LSTM, SimpleRNN } from './recurrent.js';
export type { GRUArgs, LSTMArgs, RecurrentArgs } from './recurrent.js';
export { GRUCell, LSTMCell, RNN, RNNCell, SimpleRNNCell, StackedRNNCells } from './recurrent_rnn.js';
export type { RNNArgs } from './recurrent_rnn.js';
export { CuDNNGRU, CuDNNLSTM } from './recurrent_cudnn.js';
export { ConvLSTM2D } from './convolutional_recurrent.js';
export type { ConvLSTM2DArgs } from './convolutional_recurrent.js';
export type { LambdaArgs, LambdaFunction } from './lambda.js';
export { Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum, minimum, multiply, subtract } from './merge.js';
export {
  Activation, ActivityRegularization, AlphaDropout, Dense, Dropout, ELU, Flatten, GaussianDropout, GaussianNoise, InputLayer, LeakyReLU, PReLU, Permute,
  ReLU, RepeatVector, Reshape, Softmax, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, ThresholdedReLU,
};

export {
  Conv1D, Conv2D, Conv3D, Conv2DTranspose, Conv3DTranspose, SeparableConv1D, SeparableConv2D, DepthwiseConv2D,
  Cropping1D, Cropping2D, Cropping3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D, UpSampling1D, UpSampling2D, UpSampling3D,
  LocallyConnected1D, LocallyConnected2D,
} from './convolutional.js';
export {
  MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D,
  GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
} from './pooling.js';
export { BatchNormalization } from './normalization.js';

type Config = Record<string, unknown> & { name?: string };

/** Convolutional, pooling and normalization layers (issue 17), by Keras class name. */
const WINDOW_LAYER_CLASSES: Readonly<Record<string, (c: Config) => Layer>> = {
  Conv1D: (c) => new conv.Conv1D(c.filters as number, c.kernelSize as number[], c),
  Conv2D: (c) => new conv.Conv2D(c.filters as number, c.kernelSize as number[], c),
  Conv3D: (c) => new conv.Conv3D(c.filters as number, c.kernelSize as number[], c),
  Conv2DTranspose: (c) => new conv.Conv2DTranspose(c.filters as number, c.kernelSize as number[], c),
  Conv3DTranspose: (c) => new conv.Conv3DTranspose(c.filters as number, c.kernelSize as number[], c),
  SeparableConv1D: (c) => new conv.SeparableConv1D(c.filters as number, c.kernelSize as number[], c),
  SeparableConv2D: (c) => new conv.SeparableConv2D(c.filters as number, c.kernelSize as number[], c),
  DepthwiseConv2D: (c) => new conv.DepthwiseConv2D(c.kernelSize as number[], c),
  LocallyConnected1D: (c) => new conv.LocallyConnected1D(c.filters as number, c.kernelSize as number[], c),
  LocallyConnected2D: (c) => new conv.LocallyConnected2D(c.filters as number, c.kernelSize as number[], c),
  Cropping1D: (c) => new conv.Cropping1D(c), Cropping2D: (c) => new conv.Cropping2D(c), Cropping3D: (c) => new conv.Cropping3D(c),
  ZeroPadding1D: (c) => new conv.ZeroPadding1D(c), ZeroPadding2D: (c) => new conv.ZeroPadding2D(c), ZeroPadding3D: (c) => new conv.ZeroPadding3D(c),
  UpSampling1D: (c) => new conv.UpSampling1D(c), UpSampling2D: (c) => new conv.UpSampling2D(c), UpSampling3D: (c) => new conv.UpSampling3D(c),
  MaxPooling1D: (c) => new pooling.MaxPooling1D(c), MaxPooling2D: (c) => new pooling.MaxPooling2D(c), MaxPooling3D: (c) => new pooling.MaxPooling3D(c),
  AveragePooling1D: (c) => new pooling.AveragePooling1D(c), AveragePooling2D: (c) => new pooling.AveragePooling2D(c), AveragePooling3D: (c) => new pooling.AveragePooling3D(c),
  GlobalMaxPooling1D: (c) => new pooling.GlobalMaxPooling1D(c), GlobalMaxPooling2D: (c) => new pooling.GlobalMaxPooling2D(c), GlobalMaxPooling3D: (c) => new pooling.GlobalMaxPooling3D(c),
  GlobalAveragePooling1D: (c) => new pooling.GlobalAveragePooling1D(c), GlobalAveragePooling2D: (c) => new pooling.GlobalAveragePooling2D(c),
  GlobalAveragePooling3D: (c) => new pooling.GlobalAveragePooling3D(c),
  BatchNormalization: (c) => new BatchNormalization(c),
};

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
  ...WINDOW_LAYER_CLASSES,
  Lambda: (c) => Lambda.fromConfig(c),
  Embedding: (c) => new Embedding(c.inputDim as number, c.outputDim as number, c),
  Masking: (c) => new Masking(c),
  TimeDistributed: (c) => new TimeDistributed(innerLayer(c), c),
  Bidirectional: (c) => new Bidirectional(innerLayer(c), c),
  SimpleRNN: (c) => new SimpleRNN(c.units as number, c),
  GRU: (c) => new GRU(c.units as number, c),
  LSTM: (c) => new LSTM(c.units as number, c),
  RNN: (c) => new RNN(cellFromConfig(c.cell), c),
  CuDNNLSTM: (c) => new CuDNNLSTM(c.units as number, c),
  CuDNNGRU: (c) => new CuDNNGRU(c.units as number, c),
  ConvLSTM2D: (c) => new ConvLSTM2D(c.filters as number, c.kernelSize as number[], c),
};

/** The layer a wrapper's config holds ({class_name, config}), built through the registry. */
function innerLayer(c: Config): Layer {
  const inner = c.layer as { className?: unknown; config?: Config } | undefined;
  if (!inner || typeof inner.className !== 'string') throw new Error(`${String(c.name ?? 'wrapper')}: a wrapper's config needs layer: {class_name, config}`);
  return layerFromConfig(inner.className, inner.config ?? {});
}

export function layerFromConfig(className: string, config: Config): Layer {
  const make = ownEntry(LAYER_CLASSES, className);
  if (!make) throw new Error(`Unknown layer class ${typeof className === 'string' ? `'${className}'` : describeValue(className)}. Valid layer classes: ${Object.keys(LAYER_CLASSES).sort().join(', ')}`);
  checkLayerConfig(className, config);
  return restoringLayer(() => make(config));
}

Bidirectional.registry = (className, config) => layerFromConfig(className, config);

// Every Layer class this namespace exports has its option keys checked (src/layers/layer_options.ts).
for (const value of Object.values(self)) if (typeof value === 'function' && value.prototype instanceof Layer) BUILT_IN_LAYERS.add(value);
