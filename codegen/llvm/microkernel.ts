/**
 * The matmul micro-kernel, as LLVM IR text with explicit vectors (the
 * llvm-bindings API has no vector types): C[MR x NR] += A_panel @ B_panel
 * over kc steps, MR = 6 (or 4) rows by NR = two vectors of columns (6 x 16
 * for float32 with <8 x float>, 6 x 8 for float64 with <4 x double>; twice
 * as wide where the host has AVX-512, see host.ts): twelve
 * accumulators live in registers, each step is two vector loads of B, six
 * broadcasts of A and twelve FMAs. The 4-row form (eight accumulators, still
 * enough to cover FMA latency) serves row counts that are multiples of 4 but
 * not of 6, where 6-row tiles would compute padding (32 rows as 36). Panels
 * are packed by the driver (./matmul.ts): A as kc x MR, B as kc x NR, both
 * contiguous.
 */
import type { DType } from '../../ir/dtype.js';
import type { VectorBits } from './host.js';

export type TileRows = 4 | 6;

export interface MicroKernel {
  readonly name: string;
  /** Vector width in elements. */
  readonly vw: number;
  /** Columns per tile (two vectors). */
  readonly nr: number;
  readonly ir: string;
}

/** Elements per vector register: 8 float32 with AVX2, 16 with AVX-512. */
export function vectorWidth(dtype: 'float32' | 'float64', bits: VectorBits): number {
  return bits / (dtype === 'float32' ? 32 : 64);
}

export function microKernel(dtype: 'float32' | 'float64', mr: TileRows, bits: VectorBits): MicroKernel {
  const s = dtype === 'float32' ? 'float' : 'double';
  const vw = vectorWidth(dtype, bits);
  const nr = 2 * vw;
  const v = `<${vw} x ${s}>`;
  const name = `kiln_ukernel_${dtype === 'float32' ? 'f32' : 'f64'}_${mr}x${nr}`;
  const intr = `@llvm.fma.v${vw}${dtype === 'float32' ? 'f32' : 'f64'}`;
  const tiles: [number, number][] = [];
  for (let r = 0; r < mr; r++) for (let h = 0; h < 2; h++) tiles.push([r, h]);
  const lines: string[] = [];
  lines.push(`declare ${v} ${intr}(${v}, ${v}, ${v})`);
  lines.push(`define void @${name}(${s}* noalias nocapture readonly %a, ${s}* noalias nocapture readonly %b, ${s}* noalias nocapture %c, i64 %kc, i64 %ldc) {`);
  lines.push('entry:', '  br label %loop', 'loop:', '  %p = phi i64 [ 0, %entry ], [ %p.next, %loop ]');
  for (const [r, h] of tiles) lines.push(`  %acc${r}_${h} = phi ${v} [ zeroinitializer, %entry ], [ %n${r}_${h}, %loop ]`);
  lines.push(`  %boff = mul i64 %p, ${nr}`);
  for (let h = 0; h < 2; h++) {
    lines.push(`  %bo${h} = add i64 %boff, ${h * vw}`);
    lines.push(`  %bs${h} = getelementptr inbounds ${s}, ${s}* %b, i64 %bo${h}`);
    lines.push(`  %bp${h} = bitcast ${s}* %bs${h} to ${v}*`);
    lines.push(`  %b${h} = load ${v}, ${v}* %bp${h}, align ${dtype === 'float32' ? 4 : 8}`);
  }
  lines.push(`  %aoff = mul i64 %p, ${mr}`);
  for (let r = 0; r < mr; r++) {
    lines.push(`  %ao${r} = add i64 %aoff, ${r}`);
    lines.push(`  %ap${r} = getelementptr inbounds ${s}, ${s}* %a, i64 %ao${r}`);
    lines.push(`  %as${r} = load ${s}, ${s}* %ap${r}`);
    lines.push(`  %ai${r} = insertelement ${v} undef, ${s} %as${r}, i32 0`);
    lines.push(`  %av${r} = shufflevector ${v} %ai${r}, ${v} undef, <${vw} x i32> zeroinitializer`);
    for (let h = 0; h < 2; h++) lines.push(`  %n${r}_${h} = call ${v} ${intr}(${v} %av${r}, ${v} %b${h}, ${v} %acc${r}_${h})`);
  }
  lines.push('  %p.next = add i64 %p, 1', '  %done = icmp sge i64 %p.next, %kc', '  br i1 %done, label %exit, label %loop', 'exit:');
  for (const [r, h] of tiles) {
    const t = `${r}_${h}`;
    lines.push(`  %co${t}.r = mul i64 %ldc, ${r}`);
    lines.push(`  %co${t} = add i64 %co${t}.r, ${h * vw}`);
    lines.push(`  %cs${t} = getelementptr inbounds ${s}, ${s}* %c, i64 %co${t}`);
    lines.push(`  %cp${t} = bitcast ${s}* %cs${t} to ${v}*`);
    lines.push(`  %cv${t} = load ${v}, ${v}* %cp${t}, align ${dtype === 'float32' ? 4 : 8}`);
    lines.push(`  %cn${t} = fadd ${v} %cv${t}, %n${t}`);
    lines.push(`  store ${v} %cn${t}, ${v}* %cp${t}, align ${dtype === 'float32' ? 4 : 8}`);
  }
  lines.push('  ret void', '}');
  return { name, vw, nr, ir: `${lines.join('\n')}\n` };
}

export function isMicroKernelDType(dtype: DType): dtype is 'float32' | 'float64' {
  return dtype === 'float32' || dtype === 'float64';
}

/**
 * `void kiln_pack_<t>(T* src, i64 ld, T* dst, i64 rows)`: copies `rows` rows
 * of NR contiguous elements, `ld` apart in `src`, into one contiguous B panel,
 * two vectors per row. The packing of a full B panel whose columns are
 * contiguous (the usual row-major weights): as scalar IR, `opt` shuffled it
 * element by element and packing took a third of a small-batch matmul.
 */
export function packKernel(dtype: 'float32' | 'float64', bits: VectorBits): { name: string; ir: string } {
  const s = dtype === 'float32' ? 'float' : 'double';
  const vw = vectorWidth(dtype, bits);
  const v = `<${vw} x ${s}>`;
  const align = dtype === 'float32' ? 4 : 8;
  const name = `kiln_pack_${dtype === 'float32' ? 'f32' : 'f64'}`;
  const lines = [
    `define void @${name}(${s}* noalias nocapture readonly %src, i64 %ld, ${s}* noalias nocapture %dst, i64 %rows) {`,
    'entry:',
    '  %any = icmp sgt i64 %rows, 0',
    '  br i1 %any, label %loop, label %exit',
    'loop:',
    '  %p = phi i64 [ 0, %entry ], [ %p.next, %loop ]',
    '  %so = mul i64 %p, %ld',
    `  %do = mul i64 %p, ${2 * vw}`,
  ];
  for (let h = 0; h < 2; h++) {
    lines.push(
      `  %so${h} = add i64 %so, ${h * vw}`,
      `  %sp${h} = getelementptr inbounds ${s}, ${s}* %src, i64 %so${h}`,
      `  %sv${h} = bitcast ${s}* %sp${h} to ${v}*`,
      `  %x${h} = load ${v}, ${v}* %sv${h}, align ${align}`,
      `  %do${h} = add i64 %do, ${h * vw}`,
      `  %dp${h} = getelementptr inbounds ${s}, ${s}* %dst, i64 %do${h}`,
      `  %dv${h} = bitcast ${s}* %dp${h} to ${v}*`,
      `  store ${v} %x${h}, ${v}* %dv${h}, align ${align}`,
    );
  }
  lines.push('  %p.next = add i64 %p, 1', '  %more = icmp slt i64 %p.next, %rows', '  br i1 %more, label %loop, label %exit', 'exit:', '  ret void', '}');
  return { name, ir: `${lines.join('\n')}\n` };
}

/**
 * The micro-kernel for an A that is read in place, with no packing (an
 * implicit-GEMM convolution over channels-last input, where A's rows are
 * output pixels and its depth runs contiguously over a window row's
 * channels): `void kiln_ukernel_direct_<t>_<MR>x<NR>(T* a, i64* rows, i64*
 * segs, i64 nseg, i64 seglen, i64 step, T* b, T* c, i64 ldc)`. Row r of the
 * tile reads a[rows[r] + segs[s] + q * step] at depth s * seglen + q (step 1
 * for a forward convolution; the channel count for a kernel gradient, whose
 * rows are the channels and depth the positions), so the im2col
 * gather costs one address add per row and segment; B is a packed panel
 * (nseg * seglen steps of NR); C += the tile, as in microKernel. Each A
 * element is broadcast straight from memory into `vectors` FMAs: 4 (24
 * accumulators of 32 registers) where AVX-512 has the registers and the
 * columns to fill them, which halves the broadcasts per FMA; else 2.
 */
export function directMicroKernel(dtype: 'float32' | 'float64', mr: TileRows, bits: VectorBits, vectors: 2 | 4 = 2): MicroKernel {
  const s = dtype === 'float32' ? 'float' : 'double';
  const vw = vectorWidth(dtype, bits);
  const nr = vectors * vw;
  const v = `<${vw} x ${s}>`;
  const align = dtype === 'float32' ? 4 : 8;
  const name = `kiln_ukernel_direct_${dtype === 'float32' ? 'f32' : 'f64'}_${mr}x${nr}`;
  const intr = `@llvm.fma.v${vw}${dtype === 'float32' ? 'f32' : 'f64'}`;
  const halves = Array.from({ length: vectors }, (_, h) => h);
  const tiles: [number, number][] = [];
  for (let r = 0; r < mr; r++) for (const h of halves) tiles.push([r, h]);
  const rows = Array.from({ length: mr }, (_, r) => r);
  const acc = (t: string, from: string): string => tiles.map(([r, h]) => `${t}${r}_${h} = phi ${v} ${from.replaceAll('@', `${r}_${h}`)}`).join('\n');
  const lines: string[] = [
    `declare ${v} ${intr}(${v}, ${v}, ${v})`,
    `define void @${name}(${s}* noalias nocapture readonly %a, i64* nocapture readonly %rows, i64* nocapture readonly %segs, i64 %nseg, i64 %seglen, i64 %step, ${s}* noalias nocapture readonly %b, ${s}* noalias nocapture %c, i64 %ldc) {`,
    'entry:',
    ...rows.flatMap((r) => [`  %rp${r} = getelementptr inbounds i64, i64* %rows, i64 ${r}`, `  %ro${r} = load i64, i64* %rp${r}`]),
    '  br label %seg',
    'seg:',
    '  %s = phi i64 [ 0, %entry ], [ %s.next, %segend ]',
    '  %bseg = phi i64 [ 0, %entry ], [ %bseg.next, %segend ]',
    acc('  %sa', '[ zeroinitializer, %entry ], [ %n@, %segend ]'),
    '  %sp = getelementptr inbounds i64, i64* %segs, i64 %s',
    '  %so = load i64, i64* %sp',
    ...rows.flatMap((r) => [`  %o${r} = add i64 %ro${r}, %so`, `  %row${r} = getelementptr inbounds ${s}, ${s}* %a, i64 %o${r}`]),
    '  br label %loop',
    'loop:',
    '  %q = phi i64 [ 0, %seg ], [ %q.next, %loop ]',
    acc('  %acc', '[ %sa@, %seg ], [ %n@, %loop ]'),
    '  %qa = mul i64 %q, %step',
    '  %bstep = add i64 %bseg, %q',
    `  %boff = mul i64 %bstep, ${nr}`,
  ];
  for (const h of halves) {
    lines.push(
      `  %bo${h} = add i64 %boff, ${h * vw}`,
      `  %bs${h} = getelementptr inbounds ${s}, ${s}* %b, i64 %bo${h}`,
      `  %bp${h} = bitcast ${s}* %bs${h} to ${v}*`,
      `  %b${h} = load ${v}, ${v}* %bp${h}, align ${align}`,
    );
  }
  for (const r of rows) {
    lines.push(
      `  %ap${r} = getelementptr inbounds ${s}, ${s}* %row${r}, i64 %qa`,
      `  %as${r} = load ${s}, ${s}* %ap${r}`,
      `  %ai${r} = insertelement ${v} undef, ${s} %as${r}, i32 0`,
      `  %av${r} = shufflevector ${v} %ai${r}, ${v} undef, <${vw} x i32> zeroinitializer`,
    );
    for (const h of halves) lines.push(`  %n${r}_${h} = call ${v} ${intr}(${v} %av${r}, ${v} %b${h}, ${v} %acc${r}_${h})`);
  }
  lines.push(
    '  %q.next = add i64 %q, 1',
    '  %qdone = icmp sge i64 %q.next, %seglen',
    '  br i1 %qdone, label %segend, label %loop',
    'segend:',
    '  %s.next = add i64 %s, 1',
    '  %bseg.next = add i64 %bseg, %seglen',
    '  %sdone = icmp sge i64 %s.next, %nseg',
    '  br i1 %sdone, label %exit, label %seg',
    'exit:',
  );
  for (const [r, h] of tiles) {
    const t = `${r}_${h}`;
    lines.push(
      `  %co${t}.r = mul i64 %ldc, ${r}`,
      `  %co${t} = add i64 %co${t}.r, ${h * vw}`,
      `  %cs${t} = getelementptr inbounds ${s}, ${s}* %c, i64 %co${t}`,
      `  %cp${t} = bitcast ${s}* %cs${t} to ${v}*`,
      `  %cv${t} = load ${v}, ${v}* %cp${t}, align ${align}`,
      `  %cn${t} = fadd ${v} %cv${t}, %n${t}`,
      `  store ${v} %cn${t}, ${v}* %cp${t}, align ${align}`,
    );
  }
  lines.push('  ret void', '}');
  return { name, vw, nr, ir: `${lines.join('\n')}\n` };
}
