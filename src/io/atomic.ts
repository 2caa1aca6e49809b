/**
 * Atomic saves: the new file is written under a temporary name in the same
 * folder, flushed to disk, and renamed over the old one, so a process killed
 * at any moment leaves either the previous file or the new one, never half
 * of one. A failed write removes its temporary file.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { removeStaleSaveTemporaries } from '../../runtime/cpu/temporaries.js';

function syncPath(path: string, flags: string): void {
  let fd = -1;
  try {
    fd = openSync(path, flags);
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on folders; the rename is still atomic there.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Calls `write(tmp)` to produce the file at a temporary path, then moves it to `path`. */
export async function atomicWrite(path: string, write: (tmp: string) => Promise<void> | void): Promise<void> {
  // Temporaries of saves killed mid-way (older than a minute, writer gone) go now: they are never renamed or removed otherwise.
  removeStaleSaveTemporaries(path);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await write(tmp);
    if (!existsSync(tmp)) throw new Error(`saving ${path}: the writer produced no file`);
    syncPath(tmp, 'r+');
    renameSync(tmp, path);
    syncPath(dirname(path), 'r');
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
  }
}

export function atomicWriteBytes(path: string, bytes: Uint8Array | string): Promise<void> {
  return atomicWrite(path, (tmp) => writeFileSync(tmp, bytes));
}
