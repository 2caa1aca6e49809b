/**
 * model.summary(): Keras 2's table for sequential-like models
 * (keras/utils/layer_utils.py print_summary), line for line: rows are padded
 * to the column ends exactly as Keras pads them.
 */
import { type KShape, type Layer, shapeText } from '../layers/base.js';

/** Keras's table geometry: 65 characters with column ends at [.45, .85, 1.], or 98 at [.33, .55, .67, 1.] with a "Connected to" column. */
const SEQUENTIAL = { line: 65, positions: [29, 55, 65] };
const CONNECTED = { line: 98, positions: [32, 53, 65, 98] };

function rowAt(positions: readonly number[], fields: readonly string[]): string {
  let line = '';
  fields.forEach((f, i) => {
    if (i > 0) line = `${line.slice(0, -1)} `;
    line += f;
    line = line.slice(0, positions[i]);
    line += ' '.repeat(positions[i] - line.length);
  });
  return line;
}

const row = (fields: readonly string[]): string => rowAt(SEQUENTIAL.positions, fields);
const LINE = SEQUENTIAL.line;

function group(n: number): string {
  return n.toLocaleString('en-US');
}

/** A layer's row of a functional summary: its output shape text and the "Connected to" entries (layer[node][tensor]). */
export interface ConnectedRow {
  readonly layer: Layer;
  readonly output: string;
  readonly connections: readonly string[];
}

/** Keras 2's summary of a model that is not a plain stack: one row per layer, with every inbound connection. */
export function connectedSummaryLines(name: string, rows: readonly ConnectedRow[]): string[] {
  const { line, positions } = CONNECTED;
  const lines = [`Model: "${name}"`, '_'.repeat(line), rowAt(positions, ['Layer (type)', 'Output Shape', 'Param #', 'Connected to']), '='.repeat(line)];
  rows.forEach(({ layer, output, connections }, i) => {
    lines.push(rowAt(positions, [`${layer.name} (${layer.className})`, output, String(layer.countParams()), connections[0] ?? '']));
    for (const c of connections.slice(1)) lines.push(rowAt(positions, ['', '', '', c]));
    lines.push(i === rows.length - 1 ? '='.repeat(line) : '_'.repeat(line));
  });
  return [...lines, ...totals(rows, line)];
}

function totals(rows: readonly { layer: Layer }[], line: number): string[] {
  // Totals count each weight once, as Keras's count_params(model.trainable_weights): a layer used twice owns one set.
  const weights = new Map(rows.flatMap((r) => r.layer.weights.map((w) => [w, r.layer.trainableWeights.includes(w)] as const)));
  const total = [...weights.keys()].reduce((s, w) => s + w.value.length, 0);
  const trainable = [...weights].reduce((s, [w, isTrainable]) => s + (isTrainable ? w.value.length : 0), 0);
  return [`Total params: ${group(total)}`, `Trainable params: ${group(trainable)}`, `Non-trainable params: ${group(total - trainable)}`, '_'.repeat(line)];
}

export function summaryLines(name: string, rows: readonly { layer: Layer; output: KShape }[]): string[] {
  const lines = [`Model: "${name}"`, '_'.repeat(LINE), row(['Layer (type)', 'Output Shape', 'Param #']), '='.repeat(LINE)];
  rows.forEach(({ layer, output }, i) => {
    lines.push(row([`${layer.name} (${layer.className})`, shapeText(output), String(layer.countParams())]));
    lines.push(i === rows.length - 1 ? '='.repeat(LINE) : '_'.repeat(LINE));
  });
  return [...lines, ...totals(rows, LINE)];
}
