/** A pixel canvas for PNG plots: thick lines (dashed or not), rectangles, and text in a 5x7 bitmap font. */
import type { Canvas, TextStyle } from './canvas.js';

/** 5x7 glyphs, one string of 7 rows of 5 bits (as hex digits 00-1f) per character. */
const FONT: Record<string, string> = {
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e', '4': '02060a121f0202', '5': '1f101e0101110e', '6': '0608101e11110e', '7': '1f010204080808', '8': '0e11110e11110e', '9': '0e11110f01020c',
  a: '00000e010f110f', b: '1010161911111e', c: '00000e1010110e', d: '01010d1311110f', e: '00000e111f100e', f: '0609081c080808', g: '000f11110f010e', h: '10101619111111', i: '04000c0404040e', j: '0200060202120c',
  k: '10101214181412', l: '0c04040404040e', m: '00001a15151111', n: '00001619111111', o: '00000e1111110e', p: '00001e111e1010', q: '00000d130f0101', r: '00001619101010', s: '00000e100e011e', t: '08081c08080906',
  u: '0000111111130d', v: '00001111110a04', w: '0000111115150a', x: '0000110a040a11', y: '000011110f010e', z: '00001f0204081f', '.': '0000000000000c', '-': '0000001f000000', '_': '0000000000001f', ':': '000c0c000c0c00',
  '/': '00010204081000', ' ': '00000000000000', '(': '02040808080402', ')': '08040202020408', '%': '18190204081303', '+': '0004041f040400',
};

const GLYPH_W = 6;

function parseColor(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
  if (!m) throw new Error(`RasterCanvas: colours are #rrggbb, got ${c}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

export class RasterCanvas implements Canvas {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  private set(x: number, y: number, rgb: readonly number[]): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    this.data.set(rgb, (yi * this.width + xi) * 3);
  }

  rect(x: number, y: number, w: number, h: number, stroke: string | null, fill: string | null): void {
    if (fill) {
      const rgb = parseColor(fill);
      for (let j = Math.round(y); j < Math.round(y + h); j++) for (let i = Math.round(x); i < Math.round(x + w); i++) this.set(i, j, rgb);
    }
    if (stroke) this.polyline([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]], stroke, 1);
  }

  polyline(points: readonly [number, number][], color: string, width: number, dashed = false): void {
    const rgb = parseColor(color);
    const r = Math.max(0, (width - 1) / 2);
    let travelled = 0;
    for (let k = 1; k < points.length; k++) {
      const [x0, y0] = points[k - 1];
      const [x1, y1] = points[k];
      const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 2));
      for (let s = 0; s <= steps; s++) {
        const t = s / steps;
        const along = travelled + t * Math.hypot(x1 - x0, y1 - y0);
        if (dashed && along % 10 >= 6) continue;
        const x = x0 + (x1 - x0) * t;
        const y = y0 + (y1 - y0) * t;
        for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx++) if (dx * dx + dy * dy <= r * r + 0.25) this.set(x + dx, y + dy, rgb);
      }
      travelled += Math.hypot(x1 - x0, y1 - y0);
    }
  }

  /** Text in the bitmap font, scaled by size / 10; characters it lacks are drawn as blanks. */
  text(x: number, y: number, s: string, style: TextStyle = {}): void {
    const rgb = parseColor(style.color ?? '#000000');
    const scale = Math.max(1, Math.round((style.size ?? 12) / 10));
    const chars = s.toLowerCase();
    const w = chars.length * GLYPH_W * scale;
    const left = style.anchor === 'middle' ? x - w / 2 : style.anchor === 'end' ? x - w : x;
    const top = y - 7 * scale;
    [...chars].forEach((ch, n) => {
      const g = FONT[ch] ?? FONT[' '];
      for (let row = 0; row < 7; row++) {
        const bits = parseInt(g.slice(row * 2, row * 2 + 2), 16) || 0;
        for (let col = 0; col < 5; col++) {
          if (!(bits & (16 >> col))) continue;
          for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.set(left + (n * GLYPH_W + col) * scale + sx, top + row * scale + sy, rgb);
        }
      }
    });
  }
}
