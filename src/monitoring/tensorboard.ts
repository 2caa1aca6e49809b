/**
 * Keras's TensorBoard callback: scalars of every epoch's logs (and, with
 * `updateFreq` 'batch' or a sample count, of batches as `batch_<metric>` at
 * the number of samples seen), histograms of every weight each
 * `histogramFreq` epochs (named as Keras does, `dense_1/kernel_0`), and the
 * model's layer graph. Histograms of activations (Keras's validation-data
 * pass) are not written.
 */
import type { Logs } from '../callbacks.js';
import { Callback } from '../callback_base.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';
import { EventFileWriter, type GraphNode, type SummaryValue } from './event_file.js';

export interface TensorBoardArgs {
  readonly logDir?: string;
  readonly histogramFreq?: number;
  readonly writeGraph?: boolean;
  readonly updateFreq?: 'epoch' | 'batch' | number;
}

const TENSORBOARD_OPTIONS = optionSpec<TensorBoardArgs>({ logDir: true, histogramFreq: true, writeGraph: true, updateFreq: true }, { logdir: 'logDir' });

interface GraphLayer {
  readonly name: string;
  readonly className: string;
  readonly inboundNodes?: readonly { readonly inputs: readonly { readonly layer: { readonly name: string } }[] }[];
  readonly weights?: readonly { readonly name: string; readonly value: ArrayLike<number> }[];
}

interface LayeredModel {
  readonly layers?: readonly GraphLayer[];
}

/** One node per layer, wired by the layers' first inbound node (else in order, as a Sequential stack); inputs the list lacks become InputLayer nodes. */
export function layerGraph(layers: readonly GraphLayer[]): GraphNode[] {
  const nodes = layers.map((l, i) => {
    const node = l.inboundNodes?.[0];
    const inputs = node ? node.inputs.map((t) => t.layer.name) : i > 0 ? [layers[i - 1].name] : [];
    return { name: l.name, op: l.className, inputs };
  });
  const known = new Set(nodes.map((n) => n.name));
  const missing = [...new Set(nodes.flatMap((n) => n.inputs))].filter((name) => !known.has(name));
  return [...missing.map((name) => ({ name, op: 'InputLayer', inputs: [] })), ...nodes];
}

export class TensorBoard extends Callback {
  readonly logDir: string;
  private readonly histogramFreq: number;
  private readonly writeGraph: boolean;
  private readonly updateFreq: 'epoch' | 'batch' | number;
  private writer: EventFileWriter | null = null;
  private samplesSeen = 0;
  private samplesAtLastWrite = 0;

  constructor(options: KerasOptions<TensorBoardArgs> = {}) {
    super();
    const args = readOptions('TensorBoard', options, TENSORBOARD_OPTIONS);
    this.logDir = args.logDir ?? './logs';
    this.histogramFreq = args.histogramFreq ?? 0;
    this.writeGraph = args.writeGraph ?? true;
    this.updateFreq = args.updateFreq ?? 'epoch';
    if (!(this.histogramFreq >= 0)) throw new Error(`TensorBoard: histogramFreq must be >= 0, got ${this.histogramFreq}`);
    const u = this.updateFreq;
    if (u !== 'epoch' && u !== 'batch' && !(typeof u === 'number' && u > 0)) throw new Error(`TensorBoard: updateFreq must be 'epoch', 'batch' or a positive number of samples, got ${JSON.stringify(u)}`);
  }

  /** The event file written to (null before training starts). */
  get path(): string | null {
    return this.writer?.path ?? null;
  }

  private get layers(): readonly GraphLayer[] {
    return (this.model as unknown as LayeredModel | null)?.layers ?? [];
  }

  override async onTrainBegin(): Promise<void> {
    this.writer ??= new EventFileWriter(this.logDir);
    this.samplesSeen = 0;
    this.samplesAtLastWrite = 0;
    if (this.writeGraph && this.layers.length) this.writer.addGraph(layerGraph(this.layers));
  }

  private writeLogs(logs: Logs, step: number, prefix = ''): void {
    const values = Object.entries(logs).filter(([k]) => k !== 'batch' && k !== 'size' && k !== 'num_steps').map(([k, v]) => ({ tag: prefix + k, scalar: v }));
    if (values.length) this.writer?.addSummary(values, step);
  }

  override async onBatchEnd(_batch: number, logs: Logs = {}): Promise<void> {
    if (this.updateFreq === 'epoch') return;
    this.samplesSeen += logs.size ?? 1;
    if (this.updateFreq === 'batch' || this.samplesSeen - this.samplesAtLastWrite >= this.updateFreq) {
      this.writeLogs(logs, this.samplesSeen, 'batch_');
      this.samplesAtLastWrite = this.samplesSeen;
    }
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    if (this.histogramFreq && epoch % this.histogramFreq === 0) {
      const histograms: SummaryValue[] = this.layers.flatMap((l) => (l.weights ?? []).map((w) => ({ tag: w.name.replace(/:/g, '_'), histogram: w.value })));
      if (histograms.length) this.writer?.addSummary(histograms, epoch);
    }
    this.writeLogs(logs, this.updateFreq === 'epoch' ? epoch : this.samplesSeen);
  }
}
