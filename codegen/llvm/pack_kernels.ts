/**
 * Packing a transposed operand into micro-kernel panels (kc x width, lane
 * fastest), as LLVM IR text: a panel of A whose rows are adjacent in memory
 * (A = X^T, a weight gradient's x), or of B whose depth is (B = W^T, an input
 * gradient through a Dense kernel). Written as scalar copies in loops that
 * carry `llvm.loop.vectorize.enable = false`: left to the loop vectorizer,
 * the generic packing loop vectorized across the strided direction with
 * AVX-512 gathers, which cost half of such a matmul on AMD Zen 4 (a 128 x
 * 9216 @ 9216 x 128 Dense's gradients ran at a third of the micro-kernel's
 * speed). The SLP vectorizer may still merge a step's contiguous copies.
 *
 * `void kiln_pack_<order>_<t>_w<width>(T* src, i64 ld, T* dst, i64 kc)`:
 * dst[p * width + t] = src[p * ld + t] ('lanes': the lanes are adjacent) or
 * src[t * ld + p] ('depth': the depth is adjacent), for p < kc, t < width.
 */
export type PackOrder = 'lanes' | 'depth';

export function panelPackKernel(dtype: 'float32' | 'float64', width: number, order: PackOrder): { name: string; ir: string } {
  const s = dtype === 'float32' ? 'float' : 'double';
  const name = `kiln_pack_${order}_${dtype === 'float32' ? 'f32' : 'f64'}_w${width}`;
  const lanes = Array.from({ length: width }, (_, t) => t);
  // Metadata ids of their own: the micro-kernels' texts are parsed as one module (codegen/llvm/module.ts).
  const id = 1000 + 2 * ((order === 'lanes' ? 0 : 1) * 2 * 1024 + (dtype === 'float32' ? 0 : 1024) + width);
  const lines = [
    `define void @${name}(${s}* noalias nocapture readonly %src, i64 %ld, ${s}* noalias nocapture %dst, i64 %kc) {`,
    'entry:',
    // 'depth': each lane's row starts ld apart.
    ...(order === 'depth' ? lanes.flatMap((t) => [`  %ro${t} = mul i64 %ld, ${t}`, `  %row${t} = getelementptr inbounds ${s}, ${s}* %src, i64 %ro${t}`]) : []),
    '  %any = icmp sgt i64 %kc, 0',
    '  br i1 %any, label %loop, label %exit',
    'loop:',
    '  %p = phi i64 [ 0, %entry ], [ %p.next, %loop ]',
    '  %so = mul i64 %p, %ld',
    `  %do = mul i64 %p, ${width}`,
  ];
  for (const t of lanes) {
    const from = order === 'lanes' ? [`  %si${t} = add i64 %so, ${t}`, `  %sp${t} = getelementptr inbounds ${s}, ${s}* %src, i64 %si${t}`] : [`  %sp${t} = getelementptr inbounds ${s}, ${s}* %row${t}, i64 %p`];
    lines.push(
      ...from,
      `  %x${t} = load ${s}, ${s}* %sp${t}`,
      `  %di${t} = add i64 %do, ${t}`,
      `  %dp${t} = getelementptr inbounds ${s}, ${s}* %dst, i64 %di${t}`,
      `  store ${s} %x${t}, ${s}* %dp${t}`,
    );
  }
  lines.push(
    '  %p.next = add i64 %p, 1',
    '  %more = icmp slt i64 %p.next, %kc',
    `  br i1 %more, label %loop, label %exit, !llvm.loop !${id}`,
    'exit:',
    '  ret void',
    '}',
    `!${id} = distinct !{!${id}, !${id + 1}}`,
    `!${id + 1} = !{!"llvm.loop.vectorize.enable", i1 false}`,
  );
  return { name, ir: `${lines.join('\n')}\n` };
}
