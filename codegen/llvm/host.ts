/**
 * What the host CPU offers the code generator beyond `-mcpu=native`: the
 * widest vectors the matmul micro-kernel may use (512 bits where the cores
 * have AVX-512F, else 256), and a fingerprint of the CPU's feature flags for
 * the compile cache (hosts with the same model name can differ: "AMD EPYC"
 * covers Zen 3 without AVX-512 and Zen 5 with it).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

function cpuFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return line ? line.split(':')[1].trim().split(/\s+/).sort() : [];
  } catch {
    return [];
  }
}

const FLAGS = cpuFlags();

export type VectorBits = 256 | 512;

export const HOST_VECTOR_BITS: VectorBits = process.arch === 'x64' && FLAGS.includes('avx512f') ? 512 : 256;

export const HOST_FINGERPRINT = createHash('sha256').update(FLAGS.join(' ')).digest('hex').slice(0, 16);
