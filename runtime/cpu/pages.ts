/**
 * Memory for arenas straight from the kernel: mmap'd anonymous pages
 * (zeroed, page-aligned, so 64-byte aligned) returned with munmap. glibc's
 * malloc keeps large freed blocks for reuse (its mmap threshold grows with
 * every free), so arenas from aligned_alloc never went back to the system.
 *
 * Blocks have an owner: dispose() unmaps at once; a block whose buffer is
 * garbage-collected without dispose() is unmapped by a FinalizationRegistry.
 * The registry's target is the ArrayBuffer itself, so no typed-array view of
 * the memory can outlive its mapping.
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
const munmap = libc.func('int munmap(void *addr, size_t length)');

const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const MAP_FAILED = 0xffffffffffffffffn;
export const PAGE_BYTES = 4096;

export interface PageBlock {
  readonly pointer: unknown;
  readonly buffer: ArrayBuffer;
  readonly bytes: number;
  /** Unmaps now; later calls do nothing. The buffer must not be touched afterwards. */
  dispose(): void;
}

interface Mapping {
  readonly pointer: unknown;
  readonly bytes: number;
  live: boolean;
}

/** Mappings currently held, for tests and the soak benchmark. */
let mappedBytes = 0;

function unmap(m: Mapping): void {
  if (!m.live) return;
  m.live = false;
  munmap(m.pointer, m.bytes);
  mappedBytes -= m.bytes;
}

const unreachable = new FinalizationRegistry<Mapping>(unmap);

/** `bytes` of zeroed memory (rounded up to whole pages), owned by the returned block. */
export function mapPages(bytes: number, what: string): PageBlock {
  const size = Math.ceil(Math.max(bytes, 1) / PAGE_BYTES) * PAGE_BYTES;
  const pointer: unknown = mmap(null, size, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
  if (!pointer || BigInt(koffi.address(pointer)) === MAP_FAILED) throw new Error(`cpu backend: could not map ${size} bytes for ${what}`);
  const mapping: Mapping = { pointer, bytes: size, live: true };
  mappedBytes += size;
  const buffer = koffi.view(pointer, size) as ArrayBuffer;
  const token = {};
  unreachable.register(buffer, mapping, token);
  return {
    pointer,
    buffer,
    bytes: size,
    dispose() {
      unreachable.unregister(token);
      unmap(mapping);
    },
  };
}

/** Bytes of arenas mapped and not yet released. */
export function mappedArenaBytes(): number {
  return mappedBytes;
}
