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
import { type KernelEmitter, Scope, WGSL_TYPE, viewIndex } from './emitter.js';
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
  const tx = 16;
  let ty = 16;
  while (ty > 4 && (tx * ty > target.maxInvocationsPerWorkgroup || ty > target.maxWorkgroupSizeY)) ty /= 2;
  if (tx * ty > target.maxInvocationsPerWorkgroup || tx > target.maxWorkgroupSizeX) return null;
  const rn = 4;
  const rm = 64 / ty;
  let bk = 16;
  while (bk > 4 && (bk * (ty * rm + tx * rn)) * 4 > target.maxWorkgroupStorageBytes) bk /= 2;
  return (bk * (ty * rm + tx * rn)) * 4 <= target.maxWorkgroupStorageBytes ? { tx, ty, rm, rn, bk } : null;
}

export interface MatmulShader {
  /** Module-scope declarations (workgroup arrays). */
  readonly decls: string[];
  readonly workgroupSize: readonly [number, number];
  /** Parameters of `main`. */
  readonly params: string;
  /** Workgroups to dispatch (x, y). */
  readonly groups: readonly [number, number];
  readonly body: string[];
}

export function matmulShader(e: KernelEmitter, k: MatmulKernel, target: WgslTarget, groupSize: number): MatmulShader {
  const tiling = k.dtype === 'float32' && k.m >= TILE_MIN && k.n >= TILE_MIN ? chooseTiling(target) : null;
  return tiling ? tiled(e, k, tiling, target) : simple(e, k, target, groupSize);
}

function simple(e: KernelEmitter, k: MatmulKernel, target: WgslTarget, groupSize: number): MatmulShader {
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

function tiled(e: KernelEmitter, k: MatmulKernel, t: MatmulTiling, target: WgslTarget): MatmulShader {
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
  // Staging loops: A along k when its k stride is 1 (row-major), else along m; B along n when n is contiguous.
  const aAlongK = k.a.view.strides[k.batch.length + 1] === 1 || k.a.view.strides[k.batch.length] !== 1;
  const bAlongN = k.b.view.strides[k.batch.length + 1] === 1 || k.b.view.strides[k.batch.length] !== 1;
  body.push(`  for (var p0 = 0; p0 < ${k.k}; p0 += ${bk}) {`);
  body.push(`    for (var s = lin; s < ${bk * bm}; s += ${threads}) {`);
  body.push(aAlongK ? `      let ii = s / ${bk}; let pp = s % ${bk};` : `      let pp = s / ${bm}; let ii = s % ${bm};`);
  body.push(`      let gi = row0 + ii; let gp = p0 + pp;`, `      var v = 0.0;`);
  body.push(`      if (gi < ${k.m} && gp < ${k.k}) { v = ${e.load(k.a.buf, viewIndex(k.a.view, [...batch, 'gi', 'gp']), 'float32')}; }`);
  body.push(`      tile_a[pp * ${bm} + ii] = v;`, '    }');
  body.push(`    for (var s = lin; s < ${bk * bn}; s += ${threads}) {`);
  body.push(bAlongN ? `      let pp = s / ${bn}; let jj = s % ${bn};` : `      let jj = s / ${bk}; let pp = s % ${bk};`);
  body.push(`      let gp = p0 + pp; let gj = col0 + jj;`, `      var v = 0.0;`);
  body.push(`      if (gp < ${k.k} && gj < ${k.n}) { v = ${e.load(k.b.buf, viewIndex(k.b.view, [...batch, 'gp', 'gj']), 'float32')}; }`);
  body.push(`      tile_b[pp * ${bn} + jj] = v;`, '    }');
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
