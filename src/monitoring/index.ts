/** Monitoring callbacks (re-exported in the callbacks namespace) and the event-file writer. */
export { RemoteMonitor, type RemoteMonitorArgs } from './remote_monitor.js';
export { TensorBoard, type TensorBoardArgs } from './tensorboard.js';
