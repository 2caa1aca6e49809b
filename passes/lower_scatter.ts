/**
 * Lowering of scatter_add (ir/scatter.ts): two loop kernels, one that zeroes
 * the result and one scatter store (ir/kernel.ts) whose outer dim runs over
 * the elements of a row and whose inner dim walks the updates in order.
 * Outer points (columns) are independent, so backends parallelize over them
 * and every column sums its updates in index order: no atomics, and the same
 * numbers on every backend. The work is O(updates + result), never
 * O(rows x updates).
 */
import { sizeOf } from '../ir/dtype.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Expr, LoopKernel } from '../ir/kernel.js';

export function lowerScatter(graph: Graph, node: Node<'scatter_add'>, bufferOf: Int32Array, name: string): LoopKernel[] {
  const [indices, updates] = node.inputs.map((id) => graph.nodes[id]);
  const out = bufferOf[node.id];
  const [idxBuf, updBuf] = [bufferOf[indices.id], bufferOf[updates.id]];
  if (idxBuf < 0 || updBuf < 0) throw new Error(`lower: scatter_add %${node.id} reads %${indices.id} and %${updates.id}, which must be materialized`);
  const row = sizeOf(node.type.shape.slice(1));
  const count = sizeOf(indices.type.shape);
  const dtype = node.type.dtype;
  const size = sizeOf(node.type.shape);
  const zero: LoopKernel = {
    kind: 'loop', name: `${name}_zero`, outer: [size], inner: [], reductions: [],
    stores: [{ buf: out, view: { offset: 0, strides: [1] }, expr: { k: 'const', value: 0, dtype }, space: 'full' }],
  };
  // Space: [row elements] (outer, parallel) x [updates] (inner, in order).
  const value: Expr = { k: 'load', buf: updBuf, view: { offset: 0, strides: [1, row] }, dtype };
  const index: Expr = { k: 'load', buf: idxBuf, view: { offset: 0, strides: [0, 1] }, dtype: 'int32' };
  const scatter: LoopKernel = {
    kind: 'loop', name: `${name}_scatter`, outer: [row], inner: [count], reductions: [],
    stores: [{ buf: out, view: { offset: 0, strides: [1, 0] }, expr: value, space: 'full', scatter: { expr: index, stride: row, limit: node.attrs.rows } }],
  };
  return [zero, scatter];
}
