/**
 * weights.bin: the shared state arena's bytes, exactly as the programs
 * address it. A file of the wrong length or with another SHA-256 than the
 * manifest's is refused before any program runs on it.
 */
import type { Manifest } from './manifest.js';
import type { BundleSource } from './source.js';

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function readWeights(source: BundleSource, manifest: Manifest): Promise<Uint8Array> {
  const { file, bytes, sha256 } = manifest.weights;
  const data = await source.bytes(file);
  if (data.byteLength !== bytes) {
    throw new Error(`kiln runtime: ${source.where}/${file} holds ${data.byteLength} bytes, the manifest says ${bytes}: the weights file is ${data.byteLength < bytes ? 'truncated' : 'not the one this manifest was written with'}`);
  }
  const actual = await sha256Hex(data);
  if (actual !== sha256) throw new Error(`kiln runtime: ${source.where}/${file} is corrupt: its SHA-256 is ${actual}, the manifest says ${sha256}`);
  return data;
}
