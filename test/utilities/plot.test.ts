/** utils.plotHistory: SVG structure and PNG pixels at the positions the layout gives. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { utils } from '../../src/index.js';
import { TRAIN_COLOR, VALIDATION_COLOR, layoutPanels, niceTicks, toCanvas } from '../../src/plot/plot_history.js';

const HISTORY = { history: { loss: [1.2, 0.8, 0.5, 0.4], acc: [0.5, 0.7, 0.8, 0.85], val_loss: [1.3, 0.9, 0.7, 0.75], val_acc: [0.45, 0.6, 0.7, 0.72] } };
const rgb = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

describe('plotHistory', () => {
  it('ticks are round numbers covering the range', () => {
    expect(niceTicks(0.4, 1.3)).toEqual([0.4, 0.6, 0.8, 1, 1.2, 1.4]);
    expect(niceTicks(3, 3)).toEqual([2, 2.5, 3, 3.5, 4]);
  });

  it('SVG: one panel per metric, training and validation curves through the laid-out points', () => {
    const svg = utils.historySvg(HISTORY);
    const panels = [...svg.matchAll(/<g class="panel (\w+)">([\s\S]*?)<\/g>/g)];
    expect(panels.map((m) => m[1])).toEqual(['loss', 'acc']);
    const layout = layoutPanels(HISTORY);
    panels.forEach((m, i) => {
      const lines = [...m[2].matchAll(/<polyline points="([^"]+)" fill="none" stroke="(#\w+)" stroke-width="2"( stroke-dasharray)?/g)];
      expect(lines.map((l) => l[2])).toEqual([TRAIN_COLOR, VALIDATION_COLOR]);
      const metric = layout.panels[i].metric as 'loss' | 'acc';
      const pts = lines[0][1].split(' ').map((p) => p.split(',').map(Number));
      expect(pts.length).toBe(4);
      HISTORY.history[metric].forEach((v, e) => expect(pts[e]).toBeAllClose(toCanvas(layout.panels[i], e, v), { atol: 0.01 }));
      expect(lines[1][3]).toBeTruthy();
      expect(m[2]).toContain('>validation</text>');
    });
    expect(layout.width).toBe(720);
    // Lower loss is drawn higher up.
    expect(toCanvas(layout.panels[0], 3, 0.4)[1]).toBeGreaterThan(toCanvas(layout.panels[0], 0, 1.2)[1]);
  });

  it('PNG: the curves\' colours at their points, written by extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-plot-'));
    const path = utils.plotHistory(HISTORY, join(dir, 'h.png'));
    const png = pngjs.PNG.sync.read(readFileSync(path));
    const layout = layoutPanels(HISTORY);
    expect([png.width, png.height]).toEqual([layout.width, layout.height]);
    const at = (x: number, y: number): number[] => Array.from(png.data.subarray((Math.round(y) * png.width + Math.round(x)) * 4, (Math.round(y) * png.width + Math.round(x)) * 4 + 3));
    expect(at(...toCanvas(layout.panels[1], 2, 0.8))).toEqual(rgb(TRAIN_COLOR));
    expect(at(...toCanvas(layout.panels[0], 0, 1.3))).toEqual(rgb(VALIDATION_COLOR));
    expect(at(2, 2)).toEqual([255, 255, 255]);
    // The panel titles are drawn: dark pixels in the title band of each panel.
    for (const p of layout.panels) {
      let dark = 0;
      for (let y = p.y + 8; y < p.y + 22; y++) for (let x = p.x; x < p.x + p.w; x++) if (at(x, y)[0] < 80) dark++;
      expect(dark).toBeGreaterThan(10);
    }
    expect(readFileSync(utils.plotHistory(HISTORY, join(dir, 'h.svg')), 'utf8')).toMatch(/^<svg /);
    expect(() => utils.plotHistory(HISTORY, join(dir, 'h.gif'))).toThrow(/should end in \.svg or \.png/);
    expect(() => utils.historySvg({ history: {} })).toThrow(/holds no metrics/);
    expect(() => utils.historySvg(HISTORY, { metrics: ['mae'] })).toThrow(/'mae' is not in the history/);
  });
});
