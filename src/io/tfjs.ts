/**
 * TensorFlow.js layers format: model.json ({format: 'layers-model',
 * modelTopology, weightsManifest, trainingConfig}) and binary shards of
 * little-endian weights beside it. Shard paths from a file must stay inside
 * the model's folder; weight shapes and byte ranges are checked before any
 * data is copied. Saves write content-named shards first and model.json
 * last (atomically), then remove shards only the old model.json used.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tensor } from '../tensor.js';
import { atomicWriteBytes } from './atomic.js';
import { parseConfigText } from './config_guard.js';
import { checkElementCount } from './limits.js';
import { type AnyNetwork, keras2ConfigOf, modelFromConfigObject } from './model_config.js';
import type { LoadModelOptions, SaveModelOptions } from './options.js';
import { compileArgsFrom, trainingConfigOf } from './training_config.js';
import type { FileLayer } from './weights_h5.js';
import { assignKeras2 } from './weight_match.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

const SHARD_BYTES = 4 * 2 ** 20;
const SAFE_PATH = /^[A-Za-z0-9_.-]+$/;
const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, uint8: 1, uint16: 2, bool: 1 };

interface ManifestWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype: string; readonly scale?: number; readonly min?: number };
}

export async function loadTfjs(path: string, label: string, options: LoadModelOptions = {}): Promise<AnyNetwork> {
  return loadTfjsArtifacts(readFileSync(path, 'utf8'), dirname(path), label, options);
}

function manifestOf(json: Obj, label: string): { paths: string[]; weights: ManifestWeight[] }[] {
  const m = json.weightsManifest ?? [];
  if (!Array.isArray(m)) throw new Error(`${label}: weightsManifest must be a list`);
  return m.map((g, i) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new Error(`${label}: weightsManifest[${i}] needs paths and weights lists`);
    for (const p of g.paths) if (typeof p !== 'string' || !SAFE_PATH.test(p) || p === '.' || p === '..') throw new Error(`${label}: shard path ${JSON.stringify(p)} is not a plain file name beside model.json`);
    for (const w of g.weights) if (!isObj(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || typeof w.dtype !== 'string') throw new Error(`${label}: a weight entry in weightsManifest[${i}] needs name, shape and dtype, got ${JSON.stringify(w)?.slice(0, 120)}`);
    return { paths: g.paths as string[], weights: g.weights as ManifestWeight[] };
  });
}

/** Float32 values of one manifest weight from `buf` at `offset`; returns them and the bytes used. */
function decodeWeight(w: ManifestWeight, buf: Buffer, offset: number, label: string): { value: Float32Array; bytes: number } {
  const n = checkElementCount(w.shape, `${label}: weight ${w.name}`);
  const dtype = w.quantization?.dtype ?? w.dtype;
  const size = BYTES[dtype];
  if (!size || (w.quantization && dtype !== 'uint8' && dtype !== 'uint16') || (!w.quantization && w.dtype !== 'float32' && w.dtype !== 'int32')) {
    throw new Error(`${label}: weight ${w.name} has dtype ${w.dtype}${w.quantization ? ` quantized as ${dtype}` : ''}; Kiln reads float32, int32 and uint8/uint16 quantization`);
  }
  const bytes = n * size;
  if (offset + bytes > buf.length) throw new Error(`${label}: weight ${w.name} needs bytes ${offset}..${offset + bytes} but the shards hold ${buf.length}`);
  const value = new Float32Array(n);
  const scale = Number(w.quantization?.scale ?? 1);
  const min = Number(w.quantization?.min ?? 0);
  for (let i = 0; i < n; i++) {
    const at = offset + i * size;
    const raw = dtype === 'float32' ? buf.readFloatLE(at) : dtype === 'int32' ? buf.readInt32LE(at) : dtype === 'uint16' ? buf.readUInt16LE(at) : buf[at];
    value[i] = w.quantization ? raw * scale + min : raw;
  }
  return { value, bytes };
}

/** A model from model.json text; shards are read from `dir` (null: none may be needed). */
export async function loadTfjsArtifacts(text: string, dir: string | null, label: string, options: LoadModelOptions = {}): Promise<AnyNetwork> {
  const json = parseConfigText(text, label);
  if (!isObj(json) || !isObj(json.modelTopology)) throw new Error(`${label} is JSON but not a TensorFlow.js model (no modelTopology); for a bare Keras config use modelFromJSON`);
  const topology = json.modelTopology;
  const model = modelFromConfigObject(isObj(topology.model_config) ? topology.model_config : topology, label, options);
  const tensors = new Map<string, Tensor>();
  for (const group of manifestOf(json, label)) {
    if (group.paths.length && dir === null) throw new Error(`${label}: the weights are in shard files (${group.paths.join(', ')}); load model.json by its path so they can be found`);
    const parts = group.paths.map((p) => {
      const file = join(dir!, p);
      if (!existsSync(file)) throw new Error(`${label}: weight shard ${p} is missing beside model.json`);
      if (statSync(file).size > 2 ** 31 - 1) throw new Error(`${label}: weight shard ${p} is larger than 2 GiB`);
      return readFileSync(file);
    });
    const buf = Buffer.concat(parts);
    let offset = 0;
    for (const w of group.weights) {
      const { value, bytes } = decodeWeight(w, buf, offset, label);
      offset += bytes;
      tensors.set(w.name.replace(/:0$/, ''), new Tensor(value, [...w.shape]));
    }
  }
  const fileLayers: FileLayer[] = model.layers.map((layer) => {
    const names = layer.weights.map((w) => w.name.replace(/:0$/, ''));
    const found = names.filter((n) => tensors.has(n));
    if (found.length && found.length !== names.length) throw new Error(`${label}: layer '${layer.name}' has weights ${names.join(', ')} but the manifest holds only ${found.join(', ')}`);
    return { name: layer.name, weights: found.map((n) => tensors.get(n)!), paths: found };
  });
  const missing = model.layers.filter((l, i) => l.weights.length && !fileLayers[i].weights.length);
  if (missing.length && tensors.size) throw new Error(`${label}: the manifest has no weights for layer(s) ${missing.map((l) => l.name).join(', ')}. Weights in the manifest: ${[...tensors.keys()].slice(0, 20).join(', ')}`);
  assignKeras2(fileLayers.filter((f) => f.weights.length), model.layers.filter((l) => l.weights.length && !missing.includes(l)), {}, label);
  const training = options.compile === false ? null : (json.trainingConfig ?? topology.training_config);
  const args = training ? compileArgsFrom(training, `${label} (trainingConfig)`, options.customObjects) : null;
  if (args) model.compile(args);
  return model;
}

function shardNames(stem: string, data: Buffer): { name: string; bytes: Buffer }[] {
  const hash = createHash('sha256').update(data).digest('hex').slice(0, 12);
  const count = Math.max(1, Math.ceil(data.length / SHARD_BYTES));
  return Array.from({ length: count }, (_, i) => ({ name: `${stem}.${hash}.shard${i + 1}of${count}.bin`, bytes: data.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES) }));
}

function previousShards(path: string): string[] {
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as Obj;
    return (old.weightsManifest as { paths: string[] }[]).flatMap((g) => g.paths).filter((p) => typeof p === 'string' && SAFE_PATH.test(p));
  } catch {
    return [];
  }
}

/** model.json and its shards; tfjs's loadLayersModel reads them as they are. */
export async function saveTfjs(model: AnyNetwork, path: string, _options: SaveModelOptions = {}): Promise<void> {
  const weights: ManifestWeight[] = [];
  const chunks: Buffer[] = [];
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      weights.push({ name: w.name.replace(/:0$/, ''), shape: [...w.shape], dtype: 'float32' });
      chunks.push(Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength));
    }
  }
  const shards = shardNames(basename(path).replace(/\.json$/i, ''), Buffer.concat(chunks));
  const dir = dirname(path);
  for (const s of shards) await atomicWriteBytes(join(dir, s.name), s.bytes);
  const training = trainingConfigOf(model);
  const json: Obj = {
    format: 'layers-model',
    generatedBy: 'kiln 0.1.0',
    convertedBy: null,
    modelTopology: { ...keras2ConfigOf(model), keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: shards.map((s) => s.name), weights }],
  };
  if (training) json.trainingConfig = training;
  const old = previousShards(path);
  await atomicWriteBytes(path, JSON.stringify(json));
  const kept = new Set(shards.map((s) => s.name));
  for (const p of old) if (!kept.has(p)) rmSync(join(dir, p), { force: true });
}
