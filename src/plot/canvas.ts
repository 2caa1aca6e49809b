/** The drawing surface of the plots: SVG text, or pixels for PNG, drawn by the same calls. */
export interface TextStyle {
  readonly size?: number;
  readonly anchor?: 'start' | 'middle' | 'end';
  readonly color?: string;
}

export interface Canvas {
  readonly width: number;
  readonly height: number;
  rect(x: number, y: number, w: number, h: number, stroke: string | null, fill: string | null): void;
  polyline(points: readonly [number, number][], color: string, width: number, dashed?: boolean): void;
  text(x: number, y: number, s: string, style?: TextStyle): void;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class SvgCanvas implements Canvas {
  private readonly parts: string[] = [];

  constructor(readonly width: number, readonly height: number) {}

  /** Wraps the following elements in a group (one per panel), closed by endGroup. */
  group(cls: string): void {
    this.parts.push(`<g class="${escapeXml(cls)}">`);
  }

  endGroup(): void {
    this.parts.push('</g>');
  }

  rect(x: number, y: number, w: number, h: number, stroke: string | null, fill: string | null): void {
    this.parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${fill ?? 'none'}"${stroke ? ` stroke="${stroke}"` : ''}/>`);
  }

  polyline(points: readonly [number, number][], color: string, width: number, dashed = false): void {
    const pts = points.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ');
    this.parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="${width}"${dashed ? ' stroke-dasharray="6,4"' : ''}/>`);
  }

  text(x: number, y: number, s: string, style: TextStyle = {}): void {
    this.parts.push(`<text x="${x}" y="${y}" font-family="sans-serif" font-size="${style.size ?? 12}" text-anchor="${style.anchor ?? 'start'}" fill="${style.color ?? '#000'}">${escapeXml(s)}</text>`);
  }

  toString(): string {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}">\n<rect width="100%" height="100%" fill="#fff"/>\n${this.parts.join('\n')}\n</svg>\n`;
  }
}
