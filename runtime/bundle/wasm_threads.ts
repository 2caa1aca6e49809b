/**
 * Threads for wasm programs in Node: a team of worker threads, each an
 * instance of the program's module on the same shared memory with a stack
 * of its own. The module's GOMP_parallel(fn, data, n) import posts the job
 * (fn is an index into the module's function table) through a small
 * control block of Int32s, runs thread 0's share itself and blocks in
 * Atomics.wait until the workers are done: kiln_run stays one synchronous
 * call, as on node-cpu. Browsers do not let a page's main thread block, so
 * pages run the single-threaded module.
 */

/** The memory a module imports: its minimum and maximum in 64 KiB pages. */
export function importedMemory(bytes: Uint8Array): { min: number; max: number } | null {
  let at = 8;
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new Error('kiln runtime: a wasm module ends inside a number');
      const b = bytes[at++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return result;
    }
  };
  const skipName = (): void => {
    const length = leb();
    at += length;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    const end = at + size;
    if (id !== 2) {
      at = end;
      continue;
    }
    for (let n = leb(); n > 0; n--) {
      skipName();
      skipName();
      const kind = bytes[at++];
      if (kind === 0) leb();
      else if (kind === 1) {
        at++;
        if (bytes[at++] & 1) leb();
        leb();
      } else if (kind === 2) {
        const flags = bytes[at++];
        const min = leb();
        return { min, max: flags & 1 ? leb() : min };
      } else at += 2;
    }
    return null;
  }
  return null;
}

/** The worker's side, as CommonJS source for `new Worker(code, { eval: true })`. */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, tid, stackTop, control, math } = workerData;
const c = new Int32Array(control);
let team = 1;
const env = { memory };
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.kind !== 'function') continue;
  const name = imp.name;
  if (name === 'omp_get_thread_num') env[name] = () => tid;
  else if (name === 'omp_get_num_threads') env[name] = () => team;
  else if (name === 'GOMP_parallel') env[name] = () => { throw new Error('kiln runtime: nested parallel regions'); };
  else if (math.includes(name)) {
    const f = name.replace(/f$/, '');
    env[name] = f === 'fmod' ? (a, b) => a % b : Math[f];
  }
}
const instance = new WebAssembly.Instance(module, { env });
instance.exports.__stack_pointer.value = stackTop;
const table = instance.exports.__indirect_function_table;
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (c[5] === 1) break;
  team = c[3];
  if (tid < team) {
    table.get(c[1])(c[2]);
    if (Atomics.sub(c, 4, 1) === 1) Atomics.notify(c, 4);
  }
}
`;

export interface Team {
  /** GOMP_parallel for the main instance: runs fn(data) on min(n, team) threads and returns when all are done. */
  parallel(table: WebAssembly.Table, fn: number, data: number, n: number, setTeam: (k: number) => void): void;
  dispose(): void;
}

/** Control block: [generation, fn, data, team, remaining, stop]. */
export async function startTeam(module: WebAssembly.Module, memory: WebAssembly.Memory, workers: number, stacks: (tid: number) => number, math: readonly string[]): Promise<Team> {
  const { Worker } = await import('node:worker_threads');
  const control = new SharedArrayBuffer(6 * 4);
  const c = new Int32Array(control);
  const started = Array.from({ length: workers }, (_, i) => {
    // The worker's source is CommonJS: a parent started with --input-type=module must not pass that on.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const w = new Worker(WORKER, { eval: true, execArgv, workerData: { module, memory, tid: i + 1, stackTop: stacks(i + 1), control, math } });
    w.unref();
    return { w, ready: new Promise<void>((ok, fail) => { w.once('message', () => ok()); w.once('error', fail); }) };
  });
  await Promise.all(started.map((s) => s.ready));
  return {
    parallel(table, fn, data, n, setTeam) {
      const k = Math.max(1, Math.min(n, workers + 1));
      c[1] = fn;
      c[2] = data;
      c[3] = k;
      Atomics.store(c, 4, k - 1);
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      setTeam(k);
      try {
        (table.get(fn) as (p: number) => void)(data);
      } finally {
        setTeam(1);
        for (let r = Atomics.load(c, 4); r !== 0; r = Atomics.load(c, 4)) Atomics.wait(c, 4, r);
      }
    },
    dispose() {
      c[5] = 1;
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
      for (const s of started) void s.w.terminate();
    },
  };
}
