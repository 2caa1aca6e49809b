/** keras.preprocessing: sequence, text and image. */
export * as sequence from './sequence.js';
export * as text from './text.js';
import { ImageDataGenerator } from './image_data_generator.js';
import { DirectoryIterator, NumpyArrayIterator } from './image_iterators.js';
import { arrayToImg, imgToArray, loadImg, saveImg } from './image_utils.js';

export const image = { ImageDataGenerator, NumpyArrayIterator, DirectoryIterator, loadImg, imgToArray, arrayToImg, saveImg };
export type { ImageDataGeneratorArgs } from './image_data_generator.js';
export type { FlowArgs, FlowFromDirectoryArgs } from './image_iterators.js';
