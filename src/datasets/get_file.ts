/**
 * keras.utils.get_file: a file from the cache (`~/.keras/datasets` by
 * default), downloaded from `origin` when missing or when its hash does not
 * match, and optionally extracted (tar.gz, zip).
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ArchiveFormat, extractArchive } from './archive.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export interface GetFileArgs {
  readonly untar?: boolean;
  readonly md5Hash?: string;
  readonly fileHash?: string;
  readonly cacheSubdir?: string;
  readonly hashAlgorithm?: 'auto' | 'md5' | 'sha256';
  readonly extract?: boolean;
  readonly archiveFormat?: ArchiveFormat;
  readonly cacheDir?: string;
  /** Give up when the server has not answered within this many milliseconds (default 60,000); the transfer itself may take longer. */
  readonly timeoutMs?: number;
  /** Progress and notices (default: stdout). */
  readonly log?: (message: string) => void;
}

const GET_FILE_OPTIONS = optionSpec<GetFileArgs>({
  untar: true, md5Hash: true, fileHash: true, cacheSubdir: true, hashAlgorithm: true, extract: true, archiveFormat: true, cacheDir: true, timeoutMs: true, log: true,
});

/** The folder files are cached in: `cacheDir/cacheSubdir`, falling back to /tmp/.keras when cacheDir is not writable. */
export function cacheFolder(cacheDir = join(homedir(), '.keras'), cacheSubdir = 'datasets'): string {
  let base = cacheDir;
  try {
    mkdirSync(base, { recursive: true });
    accessSync(base, constants.W_OK);
  } catch {
    base = join('/tmp', '.keras');
  }
  const dir = join(base, cacheSubdir);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function hashFile(path: string, algorithm: 'auto' | 'md5' | 'sha256' = 'sha256', expected = ''): string {
  const algo = algorithm === 'auto' ? (expected.length === 64 ? 'sha256' : 'md5') : algorithm;
  return createHash(algo).update(readFileSync(path)).digest('hex');
}

export function validateFile(path: string, fileHash: string, algorithm: 'auto' | 'md5' | 'sha256' = 'auto'): boolean {
  return hashFile(path, algorithm, fileHash) === fileHash.toLowerCase();
}

/** Streams `origin` to `path` (through a .part file); `timeoutMs` bounds the wait for the response, not the transfer. */
async function download(origin: string, path: string, timeoutMs: number): Promise<void> {
  const partial = `${path}.part`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(origin, { signal: controller.signal });
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(partial));
    renameSync(partial, path);
  } catch (e) {
    rmSync(partial, { force: true });
    const cause = (e as Error & { cause?: Error }).cause;
    throw new Error(`URL fetch failure on ${origin}: ${(e as Error).message}${cause ? ` (${cause.message})` : ''}`);
  }
}

/** Keras's get_file: the path of the cached (and, with `untar`, extracted) file. */
export async function getFile(fname: string, origin: string, options: KerasOptions<GetFileArgs> = {}): Promise<string> {
  const args = readOptions('getFile', options, GET_FILE_OPTIONS);
  const log = args.log ?? ((m: string) => void process.stdout.write(`${m}\n`));
  const dir = cacheFolder(args.cacheDir, args.cacheSubdir);
  let fileHash = args.fileHash;
  let algorithm = args.hashAlgorithm ?? 'auto';
  if (args.md5Hash && !fileHash) [fileHash, algorithm] = [args.md5Hash, 'md5'];
  const untarPath = resolve(dir, fname);
  const path = args.untar ? `${untarPath}.tar.gz` : untarPath;
  let fetchIt = !existsSync(path);
  if (!fetchIt && fileHash && !validateFile(path, fileHash, algorithm)) {
    log(`A local file was found, but it seems to be incomplete or outdated because the ${algorithm} file hash does not match the original value of ${fileHash} so we will re-download the data.`);
    fetchIt = true;
  }
  if (fetchIt) {
    log(`Downloading data from ${origin}`);
    await download(origin, path, args.timeoutMs ?? 60_000);
    if (fileHash && !validateFile(path, fileHash, algorithm)) {
      const got = hashFile(path, algorithm, fileHash);
      rmSync(path, { force: true });
      throw new Error(`getFile: the file downloaded from ${origin} has hash ${got}, expected ${fileHash}; it was removed`);
    }
  }
  if (args.untar) {
    if (!existsSync(untarPath)) extractArchive(path, dir, 'tar');
    return untarPath;
  }
  if (args.extract && !extractArchive(path, dir, args.archiveFormat ?? 'auto')) throw new Error(`getFile: ${path} is not a ${args.archiveFormat ?? 'tar or zip'} archive`);
  return path;
}
