/** Options of loadModel / saveModel and the readers and writers behind them. */
import type { CustomObjects } from './custom_objects.js';

export interface LoadModelOptions {
  /** User layers, activations, losses and metrics by the names the file uses. */
  readonly customObjects?: CustomObjects;
  /** Compile the model with the file's training config (default true), restoring the optimizer's state when the file has it. */
  readonly compile?: boolean;
  /** Where warnings go (default console.warn): an optimizer state that does not fit, for one. */
  readonly warn?: (message: string) => void;
}

export interface SaveModelOptions {
  /** Save the optimizer's state with a compiled model (default true), so training continues where it stopped. */
  readonly includeOptimizer?: boolean;
  /** Overwrite an existing file (default true, as Keras's overwrite=True). */
  readonly overwrite?: boolean;
  /** `.onnx` only: the batch size of the exported graph (default 1). */
  readonly batchSize?: number;
}
