/** h5wasm reads and writes paths: bytes in memory pass through a private temporary file. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tempPath(suffix: string): string {
  return join(tmpdir(), `kiln-${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** Runs `fn` on a temporary file holding `bytes`; the file is removed after. */
export async function withBytesAsFile<T>(bytes: Uint8Array, suffix: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = tempPath(suffix);
  writeFileSync(path, bytes, { mode: 0o600 });
  try {
    return await fn(path);
  } finally {
    rmSync(path, { force: true });
  }
}

/** The bytes `fn` writes to a temporary path. */
export async function bytesWrittenBy(suffix: string, fn: (path: string) => Promise<void>): Promise<Uint8Array> {
  const path = tempPath(suffix);
  try {
    await fn(path);
    return readFileSync(path);
  } finally {
    rmSync(path, { force: true });
  }
}
