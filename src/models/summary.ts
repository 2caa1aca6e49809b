/**
 * model.summary(): Keras 2's table for sequential-like models
 * (keras/utils/layer_utils.py print_summary), line for line: rows are padded
 * to the column ends exactly as Keras pads them.
 */
import { type KShape, type Layer, shapeText } from '../layers/base.js';

const LINE = 65;
/** Column ends: Keras's [.45, .85, 1.] of 65 characters. */
const POSITIONS = [29, 55, 65];

function row(fields: readonly string[]): string {
  let line = '';
  fields.forEach((f, i) => {
    if (i > 0) line = `${line.slice(0, -1)} `;
    line += f;
    line = line.slice(0, POSITIONS[i]);
    line += ' '.repeat(POSITIONS[i] - line.length);
  });
  return line;
}

function group(n: number): string {
  return n.toLocaleString('en-US');
}

export function summaryLines(name: string, rows: readonly { layer: Layer; output: KShape }[]): string[] {
  const lines = [`Model: "${name}"`, '_'.repeat(LINE), row(['Layer (type)', 'Output Shape', 'Param #']), '='.repeat(LINE)];
  rows.forEach(({ layer, output }, i) => {
    lines.push(row([`${layer.name} (${layer.className})`, shapeText(output), String(layer.countParams())]));
    lines.push(i === rows.length - 1 ? '='.repeat(LINE) : '_'.repeat(LINE));
  });
  // Totals count each weight once, as Keras's count_params(model.trainable_weights): a layer used twice owns one set.
  const weights = new Map(rows.flatMap((r) => r.layer.weights.map((w) => [w, r.layer.trainable && w.trainable] as const)));
  const total = [...weights.keys()].reduce((s, w) => s + w.value.length, 0);
  const trainable = [...weights].reduce((s, [w, isTrainable]) => s + (isTrainable ? w.value.length : 0), 0);
  lines.push(`Total params: ${group(total)}`, `Trainable params: ${group(trainable)}`, `Non-trainable params: ${group(total - trainable)}`, '_'.repeat(LINE));
  return lines;
}
