/**
 * Matmul kernels in WGSL, each with its epilogue fused into the store.
 *
 * Tiled form (float32, both sides at least TILE_MIN): a workgroup computes a
 * BM x BN block of the output. Per step of BK along k, the workgroup stages
 * the A and B blocks in workgroup memory (coalesced along whichever side is
 * contiguous), synchronises, and each invocation accumulates an RM x RN
 * register block. Tile sizes come from the adapter's limits.
 *
 * Simple form (small or narrow products, int32): one invocation per output
 * element, looping over k.
 */
import type { MatmulKernel } from '../../ir/kernel.js';
import { type KernelEmitter, Scope, type ShaderParts, WGSL_TYPE, viewIndex } from './emitter.js';
import { type WgslTarget, dispatchShape } from './target.js';

/** Rows and columns below which tiling wastes more than it saves. */
const TILE_MIN = 16;

export interface MatmulTiling {
  /** Invocations per workgroup along x (columns) and y (rows). */
  readonly tx: number;
  readonly ty: number;
  /** Output elements per invocation along rows and columns. */
  readonly rm: number;
  readonly rn: number;
  readonly bk: number;
}

/** The tiling for `target`, or null where its limits leave no room for one. */
export function chooseTiling(target: WgslTarget): MatmulTiling | null {
  // 128 invocations with 8 x 4 accumulators each: on llvmpipe 2.5x faster than 256 with 4 x 4, and a common GPU shape.
  const tx = 16;
  let ty = 8;
  while (ty > 4 && (tx * ty > target.maxInvocationsPerWorkgroup || ty > target.maxWorkgroupSizeY)) ty /= 2;
  if (tx * ty > target.maxInvocationsPerWorkgroup || tx > target.maxWorkgroupSizeX) return null;
  const rn = 4;
  const rm = 64 / ty;
  let bk = 16;
  while (bk > 4 && (bk * (ty * rm + tx * rn)) * 4 > target.maxWorkgroupStorageBytes) bk /= 2;
  return (bk * (ty * rm + tx * rn)) * 4 <= target.maxWorkgroupStorageBytes ? { tx, ty, rm, rn, bk } : null;
}

export function matmulShader(e: KernelEmitter, k: MatmulKernel, target: WgslTarget, groupSize: number): ShaderParts {
  const tiling = k.dtype === 'float32' && k.m >= TILE_MIN && k.n >= TILE_MIN ? chooseTiling(target) : null;
  return tiling ? tiled(e, k, tiling, target) : simple(e, k, target, groupSize);
}

function simple(e: KernelEmitter, k: MatmulKernel, target: WgslTarget, groupSize: number): ShaderParts {
  const dims = [...k.batch, k.m, k.n];
  const items = dims.reduce((a, b) => a * b, 1);
  const groups = dispatchShape(Math.ceil(items / groupSize), target);
  const { lines, vars } = e.unflatten(dims, '  ', 'o');
  const batch = vars.slice(0, -2);
  const [i, j] = vars.slice(-2);
  const body = [`  let flat = gid.x + gid.y * ${groups[0] * groupSize}u;`, `  if (flat >= ${items}u) { return; }`, ...lines];
  body.push(`  var acc: ${WGSL_TYPE[k.dtype]} = ${k.dtype === 'int32' ? '0' : '0.0'};`, `  for (var p = 0; p < ${k.k}; p++) {`);
  body.push(`    acc = acc + ${e.load(k.a.buf, viewIndex(k.a.view, [...batch, i, 'p']), k.dtype)} * ${e.load(k.b.buf, viewIndex(k.b.view, [...batch, 'p', j]), k.dtype)};`);
  body.push('  }');
  const scope = new Scope(e, vars, ['acc'], '  ');
  scope.line(e.store(k.out.buf, scope.index(k.out.view), scope.expr(k.epilogue)));
  body.push(...scope.lines);
  return { decls: [], workgroupSize: [groupSize, 1], params: '@builtin(global_invocation_id) gid: vec3<u32>', groups, body };
}

function tiled(e: KernelEmitter, k: MatmulKernel, t: MatmulTiling, target: WgslTarget): ShaderParts {
  const { tx, ty, rm, rn, bk } = t;
  const bm = ty * rm;
  const bn = tx * rn;
  const threads = tx * ty;
  const tilesM = Math.ceil(k.m / bm);
  const tilesN = Math.ceil(k.n / bn);
  const batchCount = k.batch.reduce((a, b) => a * b, 1);
  const items = batchCount * tilesM * tilesN;
  const groups = dispatchShape(items, target);
  const decls = [`var<workgroup> tile_a: array<f32, ${bk * bm}>;`, `var<workgroup> tile_b: array<f32, ${bk * bn}>;`];
  const body: string[] = [];
  // The tile index is uniform across the workgroup, so the early return keeps the barriers in uniform control flow.
  body.push(`  let tile = wg.x + wg.y * ${groups[0]}u;`, `  if (tile >= ${items}u) { return; }`);
  const { lines, vars } = e.unflatten([...k.batch, tilesM, tilesN], '  ', 'g', 'tile');
  body.push(...lines);
  const batch = vars.slice(0, -2);
  const [tm, tn] = vars.slice(-2);
  body.push(`  let row0 = ${tm} * ${bm};`, `  let col0 = ${tn} * ${bn};`, `  let tx = i32(lid.x);`, `  let ty = i32(lid.y);`, `  let lin = i32(lidx);`);
  for (let r = 0; r < rm; r++) body.push(`  var acc_${r} = vec${rn}<f32>(0.0);`);
  // Staging: consecutive invocations walk the operand's contiguous dim (coalesced), four words at a time where it allows.
  const rank = k.batch.length;
  const aAlongK = k.a.view.strides[rank + 1] === 1 || k.a.view.strides[rank] !== 1;
  const bAlongK = !(k.b.view.strides[rank + 1] === 1 || k.b.view.strides[rank] !== 1);
  const aPoint = (x: string, p: string): string[] => [...batch, x, p];
  const bPoint = (x: string, p: string): string[] => [...batch, p, x];
  const aVec = vec4Ok(e, k.a, aAlongK ? rank + 1 : rank, aAlongK ? k.k : k.m);
  const bVec = vec4Ok(e, k.b, bAlongK ? rank : rank + 1, bAlongK ? k.k : k.n);
  if (aVec) e.useVec4(k.a.buf);
  if (bVec) e.useVec4(k.b.buf);
  body.push(`  for (var p0 = 0; p0 < ${k.k}; p0 += ${bk}) {`);
  body.push(...stage(e, k.a, 'tile_a', { width: bm, bk, threads, x0: 'row0', xLimit: k.m, kLimit: k.k, alongK: aAlongK, vec: aVec, point: aPoint }));
  body.push(...stage(e, k.b, 'tile_b', { width: bn, bk, threads, x0: 'col0', xLimit: k.n, kLimit: k.k, alongK: bAlongK, vec: bVec, point: bPoint }));
  body.push('    workgroupBarrier();');
  body.push(`    for (var pp = 0; pp < ${bk}; pp++) {`);
  const bcols = Array.from({ length: rn }, (_, c) => `tile_b[pp * ${bn} + tx * ${rn} + ${c}]`);
  body.push(`      let bv = vec${rn}<f32>(${bcols.join(', ')});`);
  for (let r = 0; r < rm; r++) body.push(`      acc_${r} = fma(vec${rn}<f32>(tile_a[pp * ${bm} + ty * ${rm} + ${r}]), bv, acc_${r});`);
  body.push('    }', '    workgroupBarrier();', '  }');
  // Epilogue: each register element at its output point, bounds-checked.
  for (let r = 0; r < rm; r++) {
    for (let c = 0; c < rn; c++) {
      body.push('  {', `    let i = row0 + ty * ${rm} + ${r};`, `    let j = col0 + tx * ${rn} + ${c};`, `    if (i < ${k.m} && j < ${k.n}) {`);
      const scope = new Scope(e, [...batch, 'i', 'j'], [`acc_${r}[${c}]`], '      ');
      scope.line(e.store(k.out.buf, scope.index(k.out.view), scope.expr(k.epilogue)));
      body.push(...scope.lines, '    }', '  }');
    }
  }
  return {
    decls,
    workgroupSize: [tx, ty],
    params: '@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) lidx: u32',
    groups,
    body,
  };
}

type Operand = MatmulKernel['a'];

/**
 * Whether an operand can be staged with vec4 loads: float32, contiguous along
 * `dim` with an extent divisible by 4, every other stride a multiple of 4
 * words, and its first word 16-byte aligned within its binding.
 */
function vec4Ok(e: KernelEmitter, op: Operand, dim: number, extent: number): boolean {
  const strides = op.view.strides;
  if (e.buffer(op.buf).dtype !== 'float32' || strides[dim] !== 1 || extent % 4 !== 0) return false;
  if (!strides.every((s, d) => d === dim || s % 4 === 0)) return false;
  return (e.binding(op.buf).word + op.view.offset) % 4 === 0;
}

interface StageShape {
  /** Tile extent along m (A) or n (B). */
  readonly width: number;
  readonly bk: number;
  readonly threads: number;
  /** First row (A) or column (B) of the tile. */
  readonly x0: string;
  readonly xLimit: number;
  readonly kLimit: number;
  /** Consecutive invocations walk k (else m or n). */
  readonly alongK: boolean;
  readonly vec: boolean;
  readonly point: (x: string, p: string) => string[];
}

/** The loop that copies one operand's bk x width block into `tile` (tile[p * width + x]), zero outside the matrix. */
function stage(e: KernelEmitter, op: Operand, tile: string, t: StageShape): string[] {
  const per = t.vec ? 4 : 1;
  const lines = [`    for (var s = lin; s < ${(t.bk * t.width) / per}; s += ${t.threads}) {`];
  lines.push(t.alongK
    ? `      let xi = s / ${t.bk / per}; let pk = (s % ${t.bk / per}) * ${per};`
    : `      let pk = s / ${t.width / per}; let xi = (s % ${t.width / per}) * ${per};`);
  lines.push(`      let gx = ${t.x0} + xi; let gp = p0 + pk;`);
  const idx = viewIndex(op.view, t.point('gx', 'gp'));
  const inside = `gx < ${t.xLimit} && gp < ${t.kLimit}`;
  if (!t.vec) {
    lines.push('      var v = 0.0;', `      if (${inside}) { v = ${e.load(op.buf, idx, 'float32')}; }`, `      ${tile}[pk * ${t.width} + xi] = v;`);
  } else {
    // Both extents are multiples of 4 here, so a vector is either wholly inside the matrix or wholly outside.
    lines.push('      var v = vec4<f32>(0.0);', `      if (${inside}) { v = ${e.loadVec4(op.buf, idx)}; }`);
    for (let c = 0; c < 4; c++) lines.push(t.alongK ? `      ${tile}[(pk + ${c}) * ${t.width} + xi] = v[${c}];` : `      ${tile}[pk * ${t.width} + xi + ${c}] = v[${c}];`);
  }
  lines.push('    }');
  return lines;
}
