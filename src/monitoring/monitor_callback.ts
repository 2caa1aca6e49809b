/**
 * The base of the monitoring callbacks. callbacks.ts re-exports them, so they
 * cannot extend its Callback class at load time (the import cycle would
 * reach `extends Callback` before Callback exists); they implement its
 * interface instead, with the same no-op hooks, and fit() takes them as any
 * other callback.
 */
import type { Callback, CallbackModel, Logs, TrainParams } from '../callbacks.js';

export class MonitorCallback implements Callback {
  params: TrainParams | null = null;
  model: CallbackModel | null = null;

  setParams(params: TrainParams): void {
    this.params = params;
  }

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  async onTrainBegin(_logs: Logs = {}): Promise<void> {}
  async onTrainEnd(_logs: Logs = {}): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs: Logs = {}): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs: Logs = {}): Promise<void> {}
  async onBatchBegin(_batch: number, _logs: Logs = {}): Promise<void> {}
  async onBatchEnd(_batch: number, _logs: Logs = {}): Promise<void> {}
}
