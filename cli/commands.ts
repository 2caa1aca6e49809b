/**
 * The actions behind `kiln compile`, `summary`, `plot`, `predict` and
 * `bench`. Each takes parsed options and an output sink; failures throw
 * errors in plain words, which kiln.ts prints with a non-zero exit code.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { type BundleOptions, writeBundle } from '../codegen/bundle/write_bundle.js';
import { load } from '../runtime/bundle/index.js';
import type { BundleTarget } from '../runtime/bundle/manifest.js';
import type { BundleInput } from '../runtime/bundle/model.js';
import { tensor } from '../src/tensor.js';
import type { Network } from '../src/models/network.js';
import { benchKernels, formatBench } from './kernel_bench.js';
import { loadModelFile } from './model_file.js';
import { parseNpy, toNpy } from './npy.js';
import { plotModel } from './plot_model.js';

export type Print = (line: string) => void;

export function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s);
}

export function positiveInts(value: string, what: string): number[] {
  return list(value).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be positive integers, got '${s}'`);
    return n;
  });
}

interface CompileFlags {
  readonly out: string;
  readonly weights?: string;
  readonly targets: string;
  readonly batchSizes: string;
  readonly cpuLevels: string;
  readonly threads: string;
  readonly train: boolean;
  readonly loss?: string;
  readonly optimizer?: string;
  readonly metrics: string;
  readonly trainBatch: string;
}

function trainOption(o: CompileFlags): BundleOptions['train'] {
  if (!o.train) {
    if (o.loss || o.optimizer) throw new Error('--loss and --optimizer describe the train step: add --train');
    return undefined;
  }
  if (!o.loss || !o.optimizer) throw new Error('--train needs the loss and the optimizer: --loss NAME --optimizer NAME (Keras identifiers, as in model.compile)');
  return { batch: positiveInts(o.trainBatch, '--train-batch')[0], compile: { loss: o.loss, optimizer: o.optimizer, metrics: list(o.metrics) } };
}

export async function compileCommand(model: string, o: CompileFlags, print: Print): Promise<void> {
  const train = trainOption(o);
  const net = await loadModelFile(model, { weights: o.weights });
  const threads = positiveInts(o.threads, '--threads')[0];
  const result = await writeBundle(net, { out: o.out, targets: list(o.targets) as BundleTarget[], batchSizes: positiveInts(o.batchSizes, '--batch-sizes'), cpuLevels: list(o.cpuLevels), threads, train, log: (l) => print(`  ${l}`) });
  const total = [...result.files.values()].reduce((a, b) => a + b, 0);
  print(`wrote ${o.out}: ${result.files.size} files, ${(total / 1024).toFixed(1)} KiB (targets ${result.manifest.targets.join(', ')}; batch sizes ${result.manifest.batchSizes.join(', ')})`);
}

export async function summaryCommand(model: string, o: { weights?: string }, print: Print): Promise<void> {
  (await loadModelFile(model, { weights: o.weights })).summary(print);
}

export async function plotCommand(model: string, o: { weights?: string; toFile: string; showShapes: boolean; showLayerNames: boolean; rankdir: string }, print: Print): Promise<void> {
  const net = await loadModelFile(model, { weights: o.weights });
  plotModel(net, { toFile: o.toFile, showShapes: o.showShapes, showLayerNames: o.showLayerNames, rankdir: o.rankdir.toUpperCase() as 'TB' });
  print(`wrote ${o.toFile}`);
}

/** An input file: .npy, or JSON holding a nested array, { data, shape }, or such values by input name. */
function readInputFile(file: string): BundleInput | Record<string, BundleInput> {
  if (!existsSync(file)) throw new Error(`no such input file: ${file}`);
  if (extname(file).toLowerCase() === '.npy') return parseNpy(new Uint8Array(readFileSync(file)), file);
  if (extname(file).toLowerCase() !== '.json') throw new Error(`input file ${file}: expected .npy or .json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BundleInput;
  } catch (e) {
    throw new Error(`input file ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `--input name=file` pairs (or one unnamed file: the model's only input, or a JSON object of every input). */
function gatherInputs(specs: readonly string[], names: readonly string[]): Record<string, BundleInput> {
  if (specs.length === 0) throw new Error(`no inputs given: pass --input ${names.length === 1 ? 'FILE' : names.map((n) => `${n}=FILE`).join(' --input ')}`);
  const out: Record<string, BundleInput> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq > 0) {
      out[spec.slice(0, eq)] = readInputFile(spec.slice(eq + 1)) as BundleInput;
      continue;
    }
    const value = readInputFile(spec);
    const isMap = !Array.isArray(value) && !(value as { data?: unknown }).data && typeof value === 'object';
    if (isMap) Object.assign(out, value);
    else if (names.length === 1) out[names[0]] = value as BundleInput;
    else throw new Error(`the model has inputs ${names.join(', ')}: name each, --input NAME=FILE`);
  }
  return out;
}

function writeOutputs(outputs: Record<string, { data: Float32Array; shape: readonly number[] }>, out: string | undefined, print: Print): void {
  const entries = Object.entries(outputs);
  if (out && extname(out).toLowerCase() === '.npy') {
    if (entries.length !== 1) throw new Error(`the model has ${entries.length} outputs; write them as JSON (--out FILE.json)`);
    writeFileSync(out, toNpy(entries[0][1].data, entries[0][1].shape));
    print(`wrote ${out}`);
    return;
  }
  const json = JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }])));
  if (out) {
    writeFileSync(out, `${json}\n`);
    print(`wrote ${out}`);
  } else print(json);
}

async function predictWithModel(net: Network, inputs: Record<string, BundleInput>, batchSize: number): Promise<Record<string, { data: Float32Array; shape: readonly number[] }>> {
  const names = net.inputs.map((t) => t.layer.name);
  const unknown = Object.keys(inputs).filter((k) => !names.includes(k));
  if (unknown.length) throw new Error(`unknown input ${unknown.join(', ')}; the model's inputs are ${names.join(', ')}`);
  const xs = net.inputs.map((t) => {
    const v = inputs[t.layer.name];
    if (v === undefined) throw new Error(`missing input '${t.layer.name}'`);
    const per = t.shape.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
    const data = v instanceof Float32Array ? v : 'data' in v ? Float32Array.from(v.data) : Float32Array.from((v as unknown[]).flat(Infinity) as number[]);
    if (data.length % per !== 0) throw new Error(`input '${t.layer.name}' has ${data.length} values, not a whole number of samples of ${per}`);
    return tensor(data, [data.length / per, ...(t.shape.slice(1) as number[])]);
  });
  const y = await net.predict(xs.length === 1 ? xs[0] : xs, { batchSize });
  const ys = Array.isArray(y) ? y : [y];
  return Object.fromEntries(net.outputs.map((t, i) => [t.layer.name, { data: ys[i].data as Float32Array, shape: ys[i].shape }]));
}

export async function predictCommand(target: string, o: { input: string[]; out?: string; weights?: string; backend?: string; batchSize: string }, print: Print): Promise<void> {
  const isBundle = existsSync(target) && statSync(target).isDirectory();
  if (isBundle && !existsSync(join(target, 'manifest.json'))) throw new Error(`${target} is a folder without manifest.json: not a bundle written by kiln compile`);
  if (isBundle) {
    const m = await load(resolve(target), o.backend ? { target: o.backend as BundleTarget } : {});
    try {
      writeOutputs(await m.predict(gatherInputs(o.input, m.inputs.map((i) => i.name))), o.out, print);
    } finally {
      m.dispose();
    }
    return;
  }
  const net = await loadModelFile(target, { weights: o.weights });
  const batchSize = positiveInts(o.batchSize, '--batch-size')[0];
  writeOutputs(await predictWithModel(net, gatherInputs(o.input, net.inputs.map((t) => t.layer.name)), batchSize), o.out, print);
  net.dispose();
}

export async function benchCommand(model: string, o: { weights?: string; batch: string; threads?: string; json?: boolean }, print: Print): Promise<void> {
  const net = await loadModelFile(model, { weights: o.weights });
  const report = await benchKernels(net, { batch: positiveInts(o.batch, '--batch')[0], threads: o.threads ? positiveInts(o.threads, '--threads')[0] : undefined });
  if (o.json) print(JSON.stringify(report, null, 1));
  else formatBench(report).forEach((l) => print(l));
}
