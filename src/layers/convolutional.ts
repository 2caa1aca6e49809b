/**
 * Keras convolutional layers, one file per family, re-exported here as one
 * module (the registry in ./index.ts reads them from it): Conv1D/2D/3D
 * (conv.ts), Conv2DTranspose/Conv3DTranspose (conv_transpose.ts),
 * SeparableConv1D/2D and DepthwiseConv2D (separable_conv.ts),
 * LocallyConnected1D/2D (locally_connected.ts), and the reshaping layers
 * Keras keeps beside them: Cropping, ZeroPadding, UpSampling
 * (spatial_reshaping.ts). Each composes the window compositions of
 * ir/convolution.ts, channels-last inside: a `channels_first` layer moves
 * channels last on the way in and back on the way out (passes/layout.ts
 * moves those transposes to the graph's boundary). Kernels keep Keras's
 * shapes and weight order, so getWeights/setWeights match Keras.
 */
export { channelsOf, expectSpatialRank, fromLast, intTuple, oneOf, pairTuple, readDataFormat, spatialOf, toLast, windowedSpatial, withSpatial } from './conv_args.js';
export type { DataFormat } from './conv_args.js';
export type { ConvArgs, ConvWeightArgs } from './conv_base.js';
export { Conv, Conv1D, Conv2D, Conv3D } from './conv.js';
export { Conv2DTranspose, Conv3DTranspose, ConvTranspose, deconvLength } from './conv_transpose.js';
export type { ConvTransposeArgs } from './conv_transpose.js';
export { Depthwise, DepthwiseConv2D, SeparableConv1D, SeparableConv2D } from './separable_conv.js';
export type { DepthwiseArgs, SeparableArgs } from './separable_conv.js';
export { Cropping, Cropping1D, Cropping2D, Cropping3D, UpSampling, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D } from './spatial_reshaping.js';
export { LocallyConnected, LocallyConnected1D, LocallyConnected2D } from './locally_connected.js';
