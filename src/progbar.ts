/** Keras's text progress bar (keras.utils.Progbar), drawn by ProgbarLogger. */
import type { Logs } from './callback_base.js';

function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  if (s >= 60) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${s}s`;
}

/**
 * Keras's progress bar: `n/N [=====>....] - ETA: 3s - loss: 0.4321`. On a
 * terminal it redraws at most every 50 ms; elsewhere (logs, CI) it prints only
 * the closing line, as Keras does for non-interactive output.
 */
export class Progbar {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastWidth = 0;
  private readonly sums = new Map<string, [number, number]>();

  constructor(private readonly target: number, private readonly write: (s: string) => void = (s) => void process.stdout.write(s), private readonly interactive = Boolean(process.stdout.isTTY), private readonly width = 30) {}

  update(current: number, values: Logs, last = false): void {
    for (const [k, v] of Object.entries(values)) {
      const [sum, n] = this.sums.get(k) ?? [0, 0];
      this.sums.set(k, [sum + v * (values.size ?? 1), n + (values.size ?? 1)]);
    }
    const now = performance.now();
    if (!last && (!this.interactive || now - this.lastDraw < 50)) return;
    this.lastDraw = now;
    const digits = String(this.target).length;
    const fraction = current / this.target;
    const filled = Math.floor(this.width * fraction);
    const bar = `${'='.repeat(Math.max(filled - 1, 0))}${filled > 0 ? (current < this.target ? '>' : '=') : ''}${'.'.repeat(this.width - filled)}`;
    const elapsed = (performance.now() - this.start) / 1000;
    const perUnit = current ? elapsed / current : 0;
    let line = `${String(current).padStart(digits)}/${this.target} [${bar}]`;
    line += current < this.target ? ` - ETA: ${formatTime(perUnit * (this.target - current))}` : ` - ${Math.round(elapsed)}s ${perUnit >= 1e-3 ? `${Math.round(perUnit * 1e3)}ms` : `${Math.round(perUnit * 1e6)}us`}/step`;
    for (const [k, [sum, n]] of this.sums) if (k !== 'size' && k !== 'batch') line += ` - ${k}: ${(sum / n).toFixed(4)}`;
    const pad = Math.max(this.lastWidth - line.length, 0);
    this.lastWidth = line.length;
    this.write(`${this.interactive ? '\r' : ''}${line}${' '.repeat(pad)}${last ? '\n' : ''}`);
  }

  /** Appends final values (validation metrics) to the epoch's closing line. */
  finish(current: number, values: Logs): void {
    this.sums.clear();
    this.update(current, { ...values, size: 1 }, true);
  }
}
