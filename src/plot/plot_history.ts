/**
 * utils.plotHistory: the curves of a History (`history.history`), one panel
 * per metric with its validation curve (val_<metric>) beside the training
 * one, written as SVG or PNG (chosen by the file's extension).
 */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type pngjs from 'pngjs';
import { pngPackage } from '../optional_packages.js';
import { type Canvas, SvgCanvas } from './canvas.js';
import { RasterCanvas } from './raster_canvas.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export type HistoryLike = { readonly history: Readonly<Record<string, readonly number[]>> } | Readonly<Record<string, readonly number[]>>;

export interface PlotHistoryArgs {
  /** Metrics to draw (default: every key that is not val_*). */
  readonly metrics?: readonly string[];
  readonly panelWidth?: number;
  readonly panelHeight?: number;
  /** Panels per row (default: up to 3). */
  readonly columns?: number;
}

const PLOT_OPTIONS = optionSpec<PlotHistoryArgs>({ metrics: true, panelWidth: true, panelHeight: true, columns: true });

export const TRAIN_COLOR = '#1f77b4';
export const VALIDATION_COLOR = '#ff7f0e';
const MARGIN = { left: 56, right: 14, top: 28, bottom: 40 };

function seriesOf(h: HistoryLike): Readonly<Record<string, readonly number[]>> {
  const inner = (h as { history?: unknown }).history;
  return (inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : h) as Readonly<Record<string, readonly number[]>>;
}

/** Round tick positions covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

export interface PanelLayout {
  readonly metric: string;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly yMin: number;
  readonly yMax: number;
  readonly epochs: number;
}

/** Where each panel goes and what range it shows. */
export function layoutPanels(h: HistoryLike, options: KerasOptions<PlotHistoryArgs> = {}): { width: number; height: number; panels: PanelLayout[] } {
  const args = readOptions('plotHistory', options, PLOT_OPTIONS);
  const series = seriesOf(h);
  const metrics = args.metrics ?? Object.keys(series).filter((k) => !k.startsWith('val_') && k !== 'lr');
  if (!metrics.length) throw new Error(`plotHistory: the history holds no metrics to plot (keys: ${Object.keys(series).join(', ') || 'none'})`);
  for (const m of metrics) if (!Array.isArray(series[m]) || !series[m].length) throw new Error(`plotHistory: '${m}' is not in the history or is empty (keys: ${Object.keys(series).join(', ')})`);
  const pw = args.panelWidth ?? 360;
  const ph = args.panelHeight ?? 260;
  const columns = Math.min(args.columns ?? 3, metrics.length);
  const panels = metrics.map((metric, i) => {
    const values = [...series[metric], ...(series[`val_${metric}`] ?? [])].filter(Number.isFinite);
    const ticks = niceTicks(Math.min(...values), Math.max(...values));
    const epochs = Math.max(series[metric].length, series[`val_${metric}`]?.length ?? 0);
    return { metric, x: (i % columns) * pw, y: Math.floor(i / columns) * ph, w: pw, h: ph, yMin: ticks[0], yMax: ticks[ticks.length - 1], epochs };
  });
  return { width: columns * pw, height: Math.ceil(metrics.length / columns) * ph, panels };
}

/** Canvas coordinates of epoch index `e` (0-based) and value `v` in a panel. */
export function toCanvas(p: PanelLayout, e: number, v: number): [number, number] {
  const left = p.x + MARGIN.left;
  const right = p.x + p.w - MARGIN.right;
  const top = p.y + MARGIN.top;
  const bottom = p.y + p.h - MARGIN.bottom;
  const fx = p.epochs > 1 ? e / (p.epochs - 1) : 0.5;
  return [left + fx * (right - left), bottom - ((v - p.yMin) / (p.yMax - p.yMin)) * (bottom - top)];
}

function draw(c: Canvas & { group?(cls: string): void; endGroup?(): void }, h: HistoryLike, layout: ReturnType<typeof layoutPanels>): void {
  const series = seriesOf(h);
  for (const p of layout.panels) {
    c.group?.(`panel ${p.metric}`);
    const [x0, y0] = toCanvas(p, 0, p.yMax);
    const [x1, y1] = toCanvas(p, p.epochs - 1, p.yMin);
    c.rect(p.x + MARGIN.left, y0, p.w - MARGIN.left - MARGIN.right, y1 - y0, '#888888', null);
    c.text(p.x + p.w / 2, p.y + 18, p.metric, { anchor: 'middle', size: 13 });
    for (const t of niceTicks(p.yMin, p.yMax)) {
      if (t < p.yMin || t > p.yMax) continue;
      const [, ty] = toCanvas(p, 0, t);
      c.polyline([[p.x + MARGIN.left - 4, ty], [p.x + MARGIN.left, ty]], '#888888', 1);
      c.text(p.x + MARGIN.left - 6, ty + 4, String(Number(t.toPrecision(4))), { anchor: 'end', size: 10 });
    }
    const step = Math.max(1, Math.ceil(p.epochs / 8));
    for (let e = 0; e < p.epochs; e += step) {
      const [tx] = toCanvas(p, e, p.yMin);
      c.text(tx, y1 + 14, String(e + 1), { anchor: 'middle', size: 10 });
    }
    c.text((x0 + x1) / 2, p.y + p.h - 8, 'epoch', { anchor: 'middle', size: 11 });
    const line = (values: readonly number[], color: string, dashed: boolean): void => {
      const pts = values.map((v, e) => toCanvas(p, e, v)).filter(([, y]) => Number.isFinite(y));
      if (pts.length) c.polyline(pts, color, 2, dashed);
    };
    line(series[p.metric], TRAIN_COLOR, false);
    const val = series[`val_${p.metric}`];
    if (val) line(val, VALIDATION_COLOR, true);
    c.text(x1 - 4, y0 + 14, 'train', { anchor: 'end', size: 10, color: TRAIN_COLOR });
    if (val) c.text(x1 - 4, y0 + 28, 'validation', { anchor: 'end', size: 10, color: VALIDATION_COLOR });
    c.endGroup?.();
  }
}

export function historySvg(h: HistoryLike, args: PlotHistoryArgs = {}): string {
  const layout = layoutPanels(h, args);
  const c = new SvgCanvas(layout.width, layout.height);
  draw(c, h, layout);
  return c.toString();
}

export function historyPng(h: HistoryLike, args: PlotHistoryArgs = {}): Uint8Array {
  const layout = layoutPanels(h, args);
  const c = new RasterCanvas(layout.width, layout.height);
  draw(c, h, layout);
  return new Uint8Array(pngPackage().PNG.sync.write({ width: c.width, height: c.height, data: Buffer.from(c.data) } as pngjs.PNG, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}

/** Writes the curves to `path`: .svg or .png. Returns the path. */
export function plotHistory(h: HistoryLike, path: string, args: PlotHistoryArgs = {}): string {
  const ext = extname(path).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new Error(`plotHistory: ${path} should end in .svg or .png`);
  writeFileSync(path, ext === '.svg' ? historySvg(h, args) : historyPng(h, args));
  return path;
}
