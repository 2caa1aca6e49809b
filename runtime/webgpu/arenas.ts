/**
 * GPU buffers owned by an executable (its arena) or by a model's shared
 * state: destroyed by the owner's dispose(), or, when the owner is dropped
 * without dispose(), by a FinalizationRegistry once it is garbage-collected
 * (the CPU backend unmaps its arenas the same way).
 */
interface Held {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  live: boolean;
}

let liveBytes = 0;

function destroy(held: Held): void {
  if (!held.live) return;
  held.live = false;
  liveBytes -= held.bytes;
  held.buffer.destroy();
}

const dropped = new FinalizationRegistry<Held>(destroy);

/** Ties `buffer` to `owner`'s life; returns the owner's dispose, which destroys it at once (idempotent). */
export function ownBuffer(owner: object, buffer: GPUBuffer): () => void {
  const held: Held = { buffer, bytes: buffer.size, live: true };
  liveBytes += held.bytes;
  dropped.register(owner, held, held);
  return () => {
    dropped.unregister(held);
    destroy(held);
  };
}

/** Bytes of arena and shared-state buffers not yet destroyed (tests watch it fall back after models are dropped). */
export const liveGpuArenaBytes = (): number => liveBytes;
