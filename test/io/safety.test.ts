/**
 * Loading never runs code from a file, never reaches an object prototype and
 * never allocates what a file asks for before checking it: each hostile
 * input below fails fast with a message that says what is wrong and where.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, modelFromJSON, modelFromYAML } from '../../src/index.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const dir = mkdtempSync(join(tmpdir(), 'kiln-safety-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sequential = (layers: unknown[]): string => JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers } });
const dense = (config: Record<string, unknown>): unknown => ({ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 3], ...config } });

describe('prototypes', () => {
  it('a __proto__ key in a config is refused and pollutes nothing', () => {
    const text = `{"class_name":"Sequential","config":{"layers":[{"class_name":"Dense","config":{"units":2,"batch_input_shape":[null,3],"__proto__":{"polluted":1}}}]}}`;
    expect(() => modelFromJSON(text)).toThrow(/key '__proto__' at config\.layers\[0\]\.config is not allowed/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['constructor', 'prototype'])('a %s key is refused', (key) => {
    expect(() => modelFromJSON(`{"class_name":"Sequential","config":{"layers":[],"${key}":{}}}`)).toThrow(new RegExp(`key '${key}'`));
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('layer class %s is not looked up on Object.prototype', (cls) => {
    expect(() => modelFromJSON(sequential([{ class_name: cls, config: { name: 'x' } }]))).toThrow(/not allowed|unknown class/);
  });

  it('a model class inherited from Object.prototype is refused', () => {
    expect(() => modelFromJSON('{"class_name":"toString","config":{}}')).toThrow(/unknown model class "toString"/);
  });
});

describe('code', () => {
  it('a Keras 2 Lambda with Python bytecode is refused', () => {
    const lambda = { class_name: 'Lambda', config: { name: 'lam', function: ['4wEAAAAAAAAAAQAAAAIAAABTAAAAcwgAAAB8AGQBFABTACkCTukCAAAAqQApAdoBeHIBAAAAcgEAAAD6BDxzdGRpbj7aCDxsYW1iZGE+AQAAAPMAAAAA', null, null], function_type: 'lambda', output_shape: null, arguments: {} } };
    expect(() => modelFromJSON(sequential([dense({}), lambda]))).toThrow(/Lambda layer 'lam' holds Python bytecode; Kiln never runs code from a file/);
  });

  it('a Keras 3 __lambda__ object is refused', () => {
    const lambda = { module: 'keras.layers', class_name: 'Lambda', config: { name: 'lam', function: { class_name: '__lambda__', config: { code: 'YWJj', defaults: null, closure: null } } }, registered_name: null };
    expect(() => modelFromJSON(sequential([dense({}), lambda]))).toThrow(/Python bytecode/);
  });

  it('YAML tags that would construct objects are not honoured', () => {
    expect(() => modelFromYAML('class_name: !!js/function "function () { return 1 }"\nconfig: {}\n')).toThrow(/modelFromYAML/);
  });

  it('YAML alias bombs stop at the alias bound', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    const t0 = Date.now();
    expect(() => modelFromYAML(bomb)).toThrow(/modelFromYAML/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('sizes are checked before anything is allocated', () => {
  it('a Dense asking for a 10^12-element kernel is an error naming the layer', () => {
    const t0 = Date.now();
    expect(() => modelFromJSON(sequential([dense({ name: 'huge', units: 1_000_000, batch_input_shape: [null, 1_000_000] })]))).toThrow(/layer 'huge' \(Dense\) would create a weight of 1000000000000 elements, more than the limit/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a dimension beyond 2^31 is an error', () => {
    expect(() => modelFromJSON(sequential([dense({ batch_input_shape: [null, 1e15] })]))).toThrow(/batch_input_shape\[1\]: dimension 1000000000000000 is not an integer/);
  });

  it.each([[-3], [2.5], ['7'], [true]])('units %j is an error', (units) => {
    expect(() => modelFromJSON(sequential([dense({ units })]))).toThrow(/units/);
  });

  it('a hundred-level nested config is an error, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => modelFromJSON(sequential([dense({ extra: deep })]))).toThrow(/nests deeper than 64 levels/);
  });

  it('a cyclic functional graph is an error', () => {
    const layer = (name: string, from: string): unknown => ({ name, class_name: 'Dense', config: { name, units: 2 }, inbound_nodes: [[[from, 0, 0, {}]]] });
    const config = { class_name: 'Model', config: { name: 'm', layers: [{ name: 'in', class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 2] }, inbound_nodes: [] }, layer('a', 'b'), layer('b', 'a')], input_layers: [['in', 0, 0]], output_layers: [['b', 0, 0]] } };
    expect(() => modelFromJSON(config)).toThrow(/cycle|never exist|not defined/);
  });
});

describe('TensorFlow.js files', () => {
  const topology = JSON.parse(sequential([dense({ name: 'd' })]));
  const write = (manifest: unknown, shards: Record<string, Uint8Array> = {}): string => {
    const sub = mkdtempSync(join(dir, 'tfjs-'));
    for (const [name, bytes] of Object.entries(shards)) writeFileSync(join(sub, name), bytes);
    writeFileSync(join(sub, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
    return join(sub, 'model.json');
  };
  const weights = [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }];

  it('a shard path that leaves the model folder is refused', async () => {
    await expect(loadModel(write([{ paths: ['../../etc/passwd'], weights }]))).rejects.toThrow(/shard path "\.\.\/\.\.\/etc\/passwd" is not a plain file name/);
  });

  it('a weight larger than the shards is an error, checked before reading', async () => {
    await expect(loadModel(write([{ paths: ['w.bin'], weights }], { 'w.bin': new Uint8Array(8) }))).rejects.toThrow(/weight d\/kernel needs bytes 0\.\.24 but the shards hold 8/);
  });

  it('a manifest weight of 10^12 elements is refused before allocation', async () => {
    await expect(loadModel(write([{ paths: ['w.bin'], weights: [{ name: 'd/kernel', shape: [1e6, 1e6], dtype: 'float32' }] }], { 'w.bin': new Uint8Array(8) }))).rejects.toThrow(/has 1000000000000 elements, more than the limit/);
  });

  it('a missing shard is named', async () => {
    await expect(loadModel(write([{ paths: ['gone.bin'], weights }]))).rejects.toThrow(/weight shard gone\.bin is missing/);
  });
});

describe('.keras zips', () => {
  const mlp = readFileSync(join(DATA, 'mlp.keras'));

  it('an entry that claims to inflate beyond the limit is refused before inflating', async () => {
    const zip = zipSync({ 'config.json': strToU8('{}'), 'model.weights.h5': [new Uint8Array(64), { level: 0 }] });
    // Central directory record of the second entry: its uncompressed size (offset 24) says 4 GiB.
    const view = Buffer.from(zip);
    let at = view.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    view.writeUInt32LE(0xf0000000, at + 24);
    await expect(loadModel(new Uint8Array(view))).rejects.toThrow(/model\.weights\.h5 says it inflates to 4026531840 bytes, more than the limit/);
    at = -1;
  });

  it('a .keras without model.weights.h5 is named', async () => {
    const zip = zipSync({ 'config.json': strToU8(JSON.stringify(JSON.parse(sequential([dense({})])))) });
    await expect(loadModel(zip)).rejects.toThrow(/has no model\.weights\.h5/);
  });

  it('a truncated .keras is one clear error', async () => {
    await expect(loadModel(new Uint8Array(mlp.subarray(0, mlp.length >> 1)))).rejects.toThrow(/is not a readable \.keras zip|not a readable HDF5/);
  });
});

describe('files that are no model', () => {
  it('an unknown format is named', async () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'hello');
    await expect(loadModel(path)).rejects.toThrow(/notes\.txt is not a model file Kiln knows/);
  });

  it('a weights-only HDF5 given to loadModel says to use loadWeights', async () => {
    await expect(loadModel(join(DATA, 'mlp.weights.h5'))).rejects.toThrow(/has no 'model_config' attribute: it holds weights only/);
  });

  it('a missing file is named', async () => {
    await expect(loadModel(join(dir, 'absent.h5'))).rejects.toThrow(/no file at .*absent\.h5/);
  });
});
