/**
 * The source of the worker thread that reads HDF5 files (h5_read.ts runs it).
 * A damaged file can make the HDF5 library abort() or loop; inside a worker
 * that costs the worker, never the caller's process. The worker walks the
 * whole file into a plain snapshot (groups, attributes, dataset shapes and
 * float32 data), checking sizes from metadata before reading any data, with
 * HDF5's diagnostics captured rather than printed.
 *
 * It is Kiln's own code kept as text so it runs the same from the TypeScript
 * sources (tests) and from the built package; nothing from a file is run.
 */
export const H5_WORKER_SOURCE = String.raw`
// Node runs an eval'd worker as CommonJS or as a module depending on the package around it: dynamic imports work in both.
(async () => {
const { parentPort, workerData } = await import('node:worker_threads');
const fs = await import('node:fs');
const os = await import('node:os');
const path = await import('node:path');
const captured = [];
// The HDF5 module binds console.error when it loads: keep its messages (abort reasons) for the error text instead of stderr.
console.error = (...args) => captured.push(args.join(' '));
console.warn = console.error;
console.log = console.error;
const limits = workerData.limits;
let libPromise = null;
let diagFd = -1;

function lib() {
  if (!libPromise) libPromise = import(workerData.h5wasmUrl).then(async (m) => { await m.ready; return m; });
  return libPromise;
}

function withDiagnostics(m, fn) {
  const stream = m.FS.getStream(2);
  if (diagFd < 0) {
    const file = path.join(os.tmpdir(), 'kiln-h5-worker-' + process.pid + '-' + workerData.id + '.txt');
    diagFd = fs.openSync(file, 'w+');
    try { fs.unlinkSync(file); } catch { /* Windows keeps open files' names */ }
  }
  const saved = stream ? stream.nfd : undefined;
  if (stream) stream.nfd = diagFd;
  try {
    return fn();
  } finally {
    if (stream) stream.nfd = saved;
  }
}

function diagnosis() {
  if (diagFd < 0) return null;
  const size = fs.fstatSync(diagFd).size;
  const buf = Buffer.alloc(Math.min(size, 65536));
  fs.readSync(diagFd, buf, 0, buf.length, 0);
  fs.ftruncateSync(diagFd, 0);
  const lines = buf.toString('utf8').split('\n').filter((l) => /^\s*#\d+:/.test(l));
  const last = lines[lines.length - 1];
  return last ? last.replace(/^\s*#\d+:.*?\(\):\s*/, '').trim() : null;
}

function attrValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (ArrayBuffer.isView(v)) return Array.from(v.length > 1e6 ? v.subarray(0, 0) : v, Number);
  if (Array.isArray(v)) return v.length > 1e6 ? [] : v.map((x) => (typeof x === 'string' ? x : typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : String(x)));
  return String(v);
}

function readAttrs(node) {
  const out = {};
  for (const [k, a] of Object.entries(node.attrs)) {
    if (k === '__proto__') continue;
    try { out[k] = attrValue(a.value); } catch (e) { out[k] = { error: String(e && e.message || e) }; }
  }
  return out;
}

function walk(m, file) {
  let nodes = 0;
  let elements = 0;
  const visit = (node, where, depth) => {
    if (++nodes > limits.nodes) throw new Error('more than ' + limits.nodes + ' groups and datasets');
    if (depth > limits.depth) throw new Error('groups nest deeper than ' + limits.depth + ' levels at ' + where);
    if (node instanceof m.Dataset) {
      const shape = node.shape || [];
      let n = 1;
      for (const d of shape) {
        if (!Number.isInteger(d) || d < 0 || d > limits.dimension) return { kind: 'dataset', attrs: readAttrs(node), shape, data: null, problem: 'dimension ' + d + ' out of range' };
        n *= d;
      }
      if (n > limits.elements) return { kind: 'dataset', attrs: readAttrs(node), shape, data: null, problem: 'shape [' + shape.join(', ') + '] has ' + n + ' elements, more than the limit of ' + limits.elements };
      elements += n;
      if (elements > limits.totalElements) throw new Error('the datasets hold more than ' + limits.totalElements + ' elements in all');
      const raw = node.value;
      const v = typeof raw === 'number' || typeof raw === 'bigint' ? [raw] : raw;
      if (!(ArrayBuffer.isView(v) || (Array.isArray(v) && v.every((x) => typeof x === 'number')))) return { kind: 'dataset', attrs: readAttrs(node), shape, data: null, problem: 'does not hold numbers (data type ' + String(node.dtype) + ')' };
      const data = new Float32Array(v.length);
      for (let i = 0; i < v.length; i++) data[i] = Number(v[i]);
      if (data.length !== n) return { kind: 'dataset', attrs: readAttrs(node), shape, data: null, problem: 'has ' + data.length + ' values for shape [' + shape.join(', ') + ']' };
      return { kind: 'dataset', attrs: readAttrs(node), shape, data, problem: null };
    }
    if (!(node instanceof m.Group)) return null;
    const children = {};
    for (const k of node.keys()) {
      if (k === '__proto__') continue;
      const child = visit(node.get(k), where + '/' + k, depth + 1);
      if (child) children[k] = child;
    }
    return { kind: 'group', attrs: readAttrs(node), children };
  };
  return visit(file, '', 0);
}

parentPort.on('message', async ({ id, file }) => {
  let m;
  try {
    m = await lib();
    captured.length = 0;
    const snapshot = withDiagnostics(m, () => {
      const f = new m.File(file, 'r');
      if (f.file_id < 0n) throw new Error('HDF5 could not open it');
      try {
        return walk(m, f);
      } finally {
        f.close();
      }
    });
    diagnosis();
    parentPort.postMessage({ id, ok: true, snapshot });
  } catch (e) {
    const reason = (m && diagnosis()) || (captured.length ? captured[captured.length - 1] : null) || String(e && e.message || e);
    const aborted = /Aborted|RuntimeError|unreachable|out of bounds|memory/i.test(String(e && e.message) + ' ' + captured.join(' '));
    parentPort.postMessage({ id, ok: false, error: reason, aborted });
    // An aborted HDF5 module is unusable: end this worker; the next read starts a fresh one.
    if (aborted) process.exit(1);
  }
});
})();
`;
