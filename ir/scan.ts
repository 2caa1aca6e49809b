/**
 * The scan op: a loop over the leading axis of its sequences, with carries
 * threaded from step to step and loop-invariant operands (weights) read at
 * every step. The step is a sub-graph (`body`) whose params are, in node
 * order, the carries, one slice of each sequence, then the invariants; its
 * outputs are the new carries, then the per-step outputs.
 *
 * The IR's nodes have one result each, so a scan node's result packs all of
 * the loop's results into one flat tensor: the final carries first, then each
 * per-step output stacked over the steps ([length, ...]). `scanResults` cuts
 * them out with slice + reshape, which fuse into their consumers as views.
 *
 * Step i of a reverse scan works on position length-1-i of the sequences and
 * writes its outputs there; the vjp of a scan is a scan in the other
 * direction over the saved carries.
 */
import { type DType, type Shape, type TensorType, type TypedArray, allocArray, sameShape, shapeStr, sizeOf } from './dtype.js';
import { type Graph, GraphBuilder, type Node, type Value } from './graph.js';
import { interpret } from './interpret.js';
import type { OpAttrs, OpDef, OpName } from './ops.js';
import { VJP } from './vjp.js';

export interface ScanAttrs {
  readonly body: Graph;
  /** How many of the operands (first) and of the body's outputs (first) are carries. */
  readonly carries: number;
  /** How many operands after the carries are sequences; the rest are invariants. */
  readonly sequences: number;
  /** Steps: the leading extent of every sequence and stacked output. */
  readonly length: number;
  readonly reverse: boolean;
  /**
   * The steps to run are read at run time: the last operand is an int32
   * scalar n (clamped to [0, length]); `length` is then the capacity. Steps
   * n..length-1 of the sequences are not read, and the stacked outputs there
   * are zeros. A reverse scan walks n-1 down to 0.
   */
  readonly dynamic?: boolean;
}

function fail(message: string): never {
  throw new Error(message);
}

/** The body's params in node order (carries, slices, invariants). */
export function bodyParams(body: Graph): Node<'param'>[] {
  return body.nodes.filter((n): n is Node<'param'> => n.op === 'param');
}

/** Where each result sits in a scan's packed output: element offset and shape. */
export function scanLayout(attrs: ScanAttrs): { offset: number; shape: Shape }[] {
  let offset = 0;
  return attrs.body.outputs.map((id, i) => {
    const step = attrs.body.nodes[id].type.shape;
    const shape = i < attrs.carries ? step : [attrs.length, ...step];
    const at = { offset, shape };
    offset += sizeOf(shape);
    return at;
  });
}

/** The steps operand of a dynamic scan (its last), else none. */
export function scanOperands<T>(inputs: readonly T[], a: ScanAttrs): { operands: readonly T[]; steps: T | null } {
  return a.dynamic ? { operands: inputs.slice(0, -1), steps: inputs[inputs.length - 1] } : { operands: inputs, steps: null };
}

function inferScan(all: readonly TensorType[], a: ScanAttrs): TensorType {
  const params = bodyParams(a.body);
  const { operands: inputs, steps } = scanOperands(all, a);
  if (steps && (steps.dtype !== 'int32' || steps.shape.length !== 0)) fail(`scan: the steps operand of a dynamic scan must be an int32 scalar, got ${steps.dtype}${shapeStr(steps.shape)}`);
  if (params.length !== inputs.length) fail(`scan body takes ${params.length} operand(s), got ${inputs.length}`);
  if (a.carries < 0 || a.sequences < 0 || a.carries + a.sequences > inputs.length) fail(`scan: ${a.carries} carries and ${a.sequences} sequences do not fit ${inputs.length} operands`);
  if (a.body.outputs.length < a.carries) fail(`scan body returns ${a.body.outputs.length} value(s), fewer than its ${a.carries} carries`);
  if (!Number.isInteger(a.length) || a.length < 0) fail(`scan length must be an integer >= 0, got ${a.length}`);
  inputs.forEach((t, i) => {
    const p = params[i].type;
    const isSeq = i >= a.carries && i < a.carries + a.sequences;
    const want = isSeq ? [a.length, ...p.shape] : p.shape;
    const role = i < a.carries ? `carry ${i}` : isSeq ? `sequence ${i - a.carries}` : `invariant ${i - a.carries - a.sequences}`;
    if (!sameShape(t.shape, want) || t.dtype !== p.dtype) fail(`scan ${role} must be ${p.dtype}${shapeStr(want)}, got ${t.dtype}${shapeStr(t.shape)}`);
  });
  const outs = a.body.outputs.map((id) => a.body.nodes[id].type);
  for (let i = 0; i < a.carries; i++) {
    if (!sameShape(outs[i].shape, params[i].type.shape) || outs[i].dtype !== params[i].type.dtype) fail(`scan body's new carry ${i} is ${outs[i].dtype}${shapeStr(outs[i].shape)}, its carry is ${params[i].type.dtype}${shapeStr(params[i].type.shape)}`);
  }
  const dtype = outs[0]?.dtype ?? 'float32';
  if (outs.some((t) => t.dtype !== dtype)) fail(`scan results must share one dtype, got ${outs.map((t) => t.dtype).join(', ')}`);
  const layout = scanLayout(a);
  const total = layout.reduce((s, l) => s + sizeOf(l.shape), 0);
  return { shape: [total], dtype };
}

function evaluateScan(all: readonly TypedArray[], _types: readonly TensorType[], a: ScanAttrs, out: TensorType): TypedArray {
  const params = bodyParams(a.body);
  const { operands: inputs, steps } = scanOperands(all, a);
  const n = steps ? Math.min(Math.max(steps[0], 0), a.length) : a.length;
  const names = params.map((p) => p.attrs.name);
  const sliceSize = params.map((p) => sizeOf(p.type.shape));
  const layout = scanLayout(a);
  const result = allocArray(out.dtype, sizeOf(out.shape));
  let carries = inputs.slice(0, a.carries);
  for (let i = 0; i < n; i++) {
    const t = a.reverse ? n - 1 - i : i;
    const feeds: Record<string, TypedArray> = {};
    names.forEach((name, k) => {
      if (k < a.carries) feeds[name] = carries[k];
      else if (k < a.carries + a.sequences) feeds[name] = inputs[k].slice(t * sliceSize[k], (t + 1) * sliceSize[k]);
      else feeds[name] = inputs[k];
    });
    const outs = interpret(a.body, feeds);
    carries = outs.slice(0, a.carries);
    for (let j = a.carries; j < outs.length; j++) result.set(outs[j], layout[j].offset + t * outs[j].length);
  }
  carries.forEach((c, j) => result.set(c, layout[j].offset));
  return result;
}

export const SCAN_DEF: OpDef<ScanAttrs> = { fusion: 'opaque', infer: inferScan, evaluate: evaluateScan };

/** The scan's results as separate values: final carries, then stacked per-step outputs. */
export function scanResults(b: GraphBuilder, packed: Value, attrs: ScanAttrs): Value[] {
  return scanLayout(attrs).map(({ offset, shape }) => b.reshape(b.slice(packed, [offset], [sizeOf(shape)]), shape));
}

type BackwardStep = (sb: GraphBuilder, gCarry: readonly Value[], slices: readonly Value[], invs: readonly Value[]) => { invGrads: (Value | null)[] };

/** [a, c] of a step cotangent a^T c (a matmul with transposeA over 2-D operands). */
function matmulOperands(sb: GraphBuilder, v: Value): [Value, Value] {
  const [a, c] = sb.nodes[v.id].inputs.map((id) => ({ id, shape: sb.nodes[id].type.shape, dtype: sb.nodes[id].type.dtype }));
  return [a, c];
}

function isStepMatmul(sb: GraphBuilder, v: Value | null): boolean {
  if (!v) return false;
  const n = sb.nodes[v.id];
  if (n.op !== 'matmul') return false;
  const { transposeA, transposeB } = n.attrs as { transposeA: boolean; transposeB: boolean };
  return transposeA && !transposeB && n.inputs.every((id) => sb.nodes[id].type.shape.length === 2);
}

/**
 * Which invariants' step cotangents are a^T c of per-step values (a dense
 * or recurrent kernel's): traced once on a scratch builder, since the loop's
 * carries depend on the answer.
 */
function hoistableGrads(step: BackwardStep, gInit: readonly Value[], sequences: readonly Value[], invariants: readonly Value[]): boolean[] {
  const probe = new GraphBuilder();
  const param = (v: Value, i: number, tag: string, shape = v.shape): Value => probe.param(`${tag}${i}`, shape, v.dtype);
  const { invGrads } = step(probe, gInit.map((v, i) => param(v, i, 'g')), sequences.map((v, i) => param(v, i, 's', v.shape.slice(1))), invariants.map((v, i) => param(v, i, 'w')));
  return invGrads.map((v) => isStepMatmul(probe, v));
}

export interface ScanSpec {
  readonly init: readonly Value[];
  readonly sequences: readonly Value[];
  readonly invariants: readonly Value[];
  readonly reverse?: boolean;
  /** The steps to run, read at run time (an int32 scalar, at most the sequences' length): a dynamic scan. */
  readonly steps?: Value | null;
}

/** One step of a scan, traced into a body graph: gets the carries, the step's slices and the invariants. */
export type StepFn = (b: GraphBuilder, carries: Value[], slices: Value[], invariants: Value[]) => { carries: Value[]; outputs: Value[] };

/** Traces `step` into a body graph and adds the scan to `b`; returns [final carries..., stacked outputs...]. */
export function scan(b: GraphBuilder, spec: ScanSpec, step: StepFn): Value[] {
  const length = spec.sequences[0]?.shape[0] ?? fail('scan needs at least one sequence (its steps)');
  for (const s of spec.sequences) if (s.shape[0] !== length) fail(`scan sequences differ in length: ${shapeStr(spec.sequences.map((q) => q.shape[0]))}`);
  const body = traceStep(spec, step);
  const dynamic = spec.steps ? { dynamic: true } : {};
  const attrs: ScanAttrs = { body, carries: spec.init.length, sequences: spec.sequences.length, length, reverse: spec.reverse ?? false, ...dynamic };
  const packed = b.op('scan', [...spec.init, ...spec.sequences, ...spec.invariants, ...(spec.steps ? [spec.steps] : [])], attrs as OpAttrs['scan']);
  return scanResults(b, packed, attrs);
}

function traceStep(spec: ScanSpec, step: StepFn): Graph {
  const sb = new GraphBuilder();
  const carries = spec.init.map((v, i) => sb.param(`carry${i}`, v.shape, v.dtype));
  const slices = spec.sequences.map((v, i) => sb.param(`slice${i}`, v.shape.slice(1), v.dtype));
  const invariants = spec.invariants.map((v, i) => sb.param(`inv${i}`, v.shape, v.dtype));
  const r = step(sb, carries, slices, invariants);
  if (r.carries.length !== carries.length) fail(`scan step returned ${r.carries.length} carries for ${carries.length}`);
  return sb.build([...r.carries, ...r.outputs]);
}

const isFloatType = (dtype: DType): boolean => dtype === 'float32' || dtype === 'float64';
const zerosLike = (b: GraphBuilder, v: { shape: Shape; dtype: DType }): Value => b.broadcastTo(b.constant(0, [], v.dtype), v.shape);

/**
 * Copies `graph` into `b` with its params bound to `args`, then walks it
 * backwards from the outputs' cotangents (null: none); returns the outputs
 * and each param's cotangent (null where nothing flows or it is not a float).
 */
export function graphVjp(b: GraphBuilder, graph: Graph, args: readonly Value[], cts: readonly (Value | null)[]): { outputs: Value[]; grads: (Value | null)[] } {
  const values: Value[] = [];
  let p = 0;
  for (const n of graph.nodes) values.push(n.op === 'param' ? args[p++] : b.op(n.op as OpName, n.inputs.map((i) => values[i]), n.attrs as OpAttrs[OpName]));
  const ct: (Value | undefined)[] = [];
  const addCt = (id: number, v: Value): void => void (ct[id] = ct[id] ? b.add(ct[id]!, v) : v);
  graph.outputs.forEach((o, i) => cts[i] && addCt(o, cts[i]!));
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const g = ct[id];
    const n = graph.nodes[id];
    if (!g || n.op === 'param' || n.inputs.length === 0) continue;
    const vjp = VJP[n.op] as (bb: GraphBuilder, x: { inputs: Value[]; out: Value; attrs: unknown; g: Value }) => readonly (Value | null)[];
    const parts = vjp(b, { inputs: n.inputs.map((i) => values[i]), out: values[id], attrs: n.attrs, g });
    n.inputs.forEach((input, k) => parts[k] && addCt(input, parts[k]!));
  }
  const params = graph.nodes.filter((n) => n.op === 'param');
  return { outputs: graph.outputs.map((o) => values[o]), grads: params.map((n) => (isFloatType(n.type.dtype) ? ct[n.id] ?? null : null)) };
}

/**
 * vjp of a scan: the forward scan again with each step's incoming carries as
 * extra stacked outputs, then a scan in the other direction whose carries are
 * the carries' cotangents and running sums of the invariants' cotangents, and
 * whose per-step outputs are the sequences' cotangents.
 */
export function scanVjp(b: GraphBuilder, { inputs: all, attrs, g }: { inputs: readonly Value[]; attrs: ScanAttrs; g: Value }): (Value | null)[] {
  const { operands: inputs, steps } = scanOperands(all, attrs);
  const nc = attrs.carries;
  const ns = attrs.sequences;
  const params = bodyParams(attrs.body);
  const cotangents = scanResults(b, g, attrs);
  // Forward again, saving the carry each step starts from.
  const saveBody: Graph = { ...attrs.body, outputs: [...attrs.body.outputs, ...params.slice(0, nc).map((p) => p.id)] };
  const saveAttrs: ScanAttrs = { ...attrs, body: saveBody };
  const saved = scanResults(b, b.op('scan', all, saveAttrs as OpAttrs['scan']), saveAttrs).slice(attrs.body.outputs.length);
  const floatCarry = params.slice(0, nc).map((p) => isFloatType(p.type.dtype));
  const invIdx = params.map((_, i) => i).filter((i) => i >= nc + ns && isFloatType(params[i].type.dtype));
  const seqIdx = params.map((_, i) => i).filter((i) => i >= nc && i < nc + ns);
  const floatSeq = seqIdx.filter((i) => isFloatType(params[i].type.dtype));
  const nyOut = attrs.body.outputs.length - nc;
  const carryIdx = params.slice(0, nc).map((_, i) => i).filter((i) => floatCarry[i]);
  const step = (sb: GraphBuilder, gCarry: readonly Value[], slices: readonly Value[], invs: readonly Value[]): { newG: Value[]; invGrads: (Value | null)[]; seqGrads: Value[] } => {
    const xs = slices.slice(0, seqIdx.length);
    const cs = slices.slice(seqIdx.length, seqIdx.length + nc);
    const gys = slices.slice(seqIdx.length + nc, seqIdx.length + nc + nyOut);
    const ctCarry = params.slice(0, nc).map((_, i) => (floatCarry[i] ? gCarry[carryIdx.indexOf(i)] : null));
    const { grads } = graphVjp(sb, attrs.body, [...cs, ...xs, ...invs], [...ctCarry, ...gys]);
    return {
      newG: carryIdx.map((i) => grads[i] ?? zerosLike(sb, cs[i])),
      invGrads: invIdx.map((i) => grads[i]),
      seqGrads: floatSeq.map((i) => grads[i] ?? zerosLike(sb, xs[seqIdx.indexOf(i)])),
    };
  };
  const sequences = [...seqIdx.map((i) => inputs[i]), ...saved, ...cotangents.slice(nc)];
  const hoisted = hoistableGrads(step, carryIdx.map((i) => cotangents[i]), sequences, inputs.slice(nc + ns));
  const carried = invIdx.filter((_, k) => !hoisted[k]);
  const results = scan(b, {
    init: [...carryIdx.map((i) => cotangents[i]), ...carried.map((i) => zerosLike(b, inputs[i]))],
    sequences,
    invariants: inputs.slice(nc + ns),
    reverse: !attrs.reverse,
    steps,
  }, (sb, carries, slices, invs) => {
    const gInv = carries.slice(carryIdx.length);
    const { newG, invGrads, seqGrads } = step(sb, carries.slice(0, carryIdx.length), slices, invs);
    const newInv = carried.map((i, k) => {
      const part = invGrads[invIdx.indexOf(i)];
      return part ? sb.add(gInv[k], part) : gInv[k];
    });
    // A hoisted invariant's step cotangent is a^T c: its operands go out per step, and one matmul after the loop sums them.
    const operands = invIdx.flatMap((_, k) => (hoisted[k] ? matmulOperands(sb, invGrads[k]!) : []));
    return { carries: [...newG, ...newInv], outputs: [...seqGrads, ...operands] };
  });
  const out: (Value | null)[] = all.map(() => null);
  carryIdx.forEach((i, k) => (out[i] = results[k]));
  carried.forEach((i, k) => (out[i] = results[carryIdx.length + k]));
  const firstOut = carryIdx.length + carried.length;
  floatSeq.forEach((i, k) => (out[i] = results[firstOut + k]));
  let at = firstOut + floatSeq.length;
  invIdx.forEach((i, k) => {
    if (!hoisted[k]) return;
    const [as, cs] = [results[at++], results[at++]];
    const rows = (v: Value): Value => b.reshape(v, [v.shape[0] * v.shape[1], v.shape[2]]);
    out[i] = b.matmul(rows(as), rows(cs), true, false);
  });
  return out;
}
