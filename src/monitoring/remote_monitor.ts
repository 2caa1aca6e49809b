/**
 * Keras's RemoteMonitor: POSTs each epoch's logs to `root + path`. Keras
 * sends them form-encoded as `field=<json>`, or as a JSON body with
 * `sendAsJson`; both are supported. A failed request warns and training
 * goes on, as in Keras.
 */
import type { Logs } from '../callbacks.js';
import { Callback } from '../callback_base.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export interface RemoteMonitorArgs {
  readonly root?: string;
  readonly path?: string;
  readonly field?: string;
  readonly headers?: Record<string, string>;
  readonly sendAsJson?: boolean;
  /** Where warnings go (default: stderr). */
  readonly warn?: (message: string) => void;
}

const REMOTE_MONITOR_OPTIONS = optionSpec<RemoteMonitorArgs>({ root: true, path: true, field: true, headers: true, sendAsJson: true, warn: true });

export class RemoteMonitor extends Callback {
  readonly url: string;
  private readonly args: RemoteMonitorArgs;

  constructor(options: KerasOptions<RemoteMonitorArgs> = {}) {
    super();
    const args = readOptions('RemoteMonitor', options, REMOTE_MONITOR_OPTIONS);
    this.args = args;
    this.url = `${args.root ?? 'http://localhost:9000'}${args.path ?? '/publish/epoch/end/'}`;
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const send: Record<string, number> = { epoch };
    for (const [k, v] of Object.entries(logs)) send[k] = v;
    const json = JSON.stringify(send);
    const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json', ...this.args.headers };
    const body = this.args.sendAsJson ? json : new URLSearchParams({ [this.args.field ?? 'data']: json }).toString();
    if (!this.args.sendAsJson) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      await res.arrayBuffer();
    } catch (e) {
      (this.args.warn ?? ((m) => process.stderr.write(`${m}\n`)))(`Warning: could not reach RemoteMonitor root server at ${this.url} (${(e as Error).message})`);
    }
  }
}
