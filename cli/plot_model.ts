/**
 * keras.utils.plot_model: the model's layer graph in Graphviz's DOT language
 * (record nodes labelled `name: ClassName`, with an input/output shape table
 * under show_shapes; edges from each layer's inbound layers), rendered by
 * Debian's `dot` to the format of the file's extension (png when it has
 * none; `.dot` writes the DOT text itself). As in Keras 2.2, a Sequential
 * model's auto-created InputLayer is not drawn.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { KShape, Layer } from '../src/layers/base.js';
import type { Network } from '../src/models/network.js';

export interface PlotOptions {
  readonly toFile?: string;
  readonly showShapes?: boolean;
  readonly showLayerNames?: boolean;
  /** 'TB' (vertical) or 'LR' (horizontal), as Graphviz's rankdir. */
  readonly rankdir?: 'TB' | 'LR' | 'BT' | 'RL';
}

const RANKDIRS = ['TB', 'LR', 'BT', 'RL'];

/** A shape as Python prints Keras's tuples: (None, 784), (None,). */
function tuple(shape: KShape): string {
  const dims = shape.map((d) => (d === null ? 'None' : String(d)));
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

function shapesText(shapes: readonly KShape[]): string {
  return shapes.length === 1 ? tuple(shapes[0]) : `[${shapes.map(tuple).join(', ')}]`;
}

/** Escapes what DOT's record labels treat as structure in names. */
function escape(text: string): string {
  return text.replace(/([\\"<>{}|])/g, '\\$1');
}

function label(layer: Layer, showLayerNames: boolean, showShapes: boolean): string {
  const head = escape(showLayerNames ? `${layer.name}: ${layer.className}` : layer.className);
  if (!showShapes) return head;
  const node = layer.inboundNodes.length === 1 ? layer.inboundNodes[0] : null;
  const inputs = node ? (node.inputs.length ? shapesText(node.inputs.map((t) => t.shape)) : shapesText(node.outputs.map((t) => t.shape))) : 'multiple';
  const outputs = node ? shapesText(node.outputs.map((t) => t.shape)) : 'multiple';
  return `${head}\\n|{input:|output:}|{{${escape(inputs)}}|{${escape(outputs)}}}`;
}

export function modelToDot(model: Network, options: Omit<PlotOptions, 'toFile'> = {}): string {
  const rankdir = options.rankdir ?? 'TB';
  if (!RANKDIRS.includes(rankdir)) throw new Error(`plotModel: rankdir must be one of ${RANKDIRS.join(', ')}, got '${rankdir}'`);
  const layers = model.layers;
  const id = new Map(layers.map((l, i) => [l, `layer_${i}`]));
  const lines = ['digraph G {', `  rankdir=${rankdir};`, '  concentrate=true;', '  node [shape=record];'];
  for (const l of layers) lines.push(`  ${id.get(l)} [label="${label(l, options.showLayerNames ?? true, options.showShapes ?? false)}"];`);
  for (const l of layers) {
    for (const node of l.inboundNodes) {
      for (const t of node.inputs) if (id.has(t.layer)) lines.push(`  ${id.get(t.layer)} -> ${id.get(l)};`);
    }
  }
  lines.push('}');
  return `${[...new Set(lines)].join('\n')}\n`;
}

/** Writes the plot to `toFile` (default model.png); returns the DOT text. */
export function plotModel(model: Network, options: PlotOptions = {}): string {
  const toFile = options.toFile ?? 'model.png';
  const dot = modelToDot(model, options);
  const format = extname(toFile).slice(1).toLowerCase() || 'png';
  if (format === 'dot' || format === 'gv') {
    writeFileSync(toFile, dot);
    return dot;
  }
  try {
    execFileSync('dot', [`-T${format}`, '-o', toFile], { input: dot, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error("plotModel: Graphviz's 'dot' is not installed (Debian: apt-get install graphviz)");
    throw new Error(`plotModel: dot could not write ${toFile} as ${format}: ${err.stderr?.toString().trim() || err.message}`);
  }
  return dot;
}
