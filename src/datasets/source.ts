/** Where the dataset loaders find their files: getFile from the cache, with an error that says what to put where. */
import { join } from 'node:path';
import { cacheFolder, getFile } from './get_file.js';

export interface DatasetFileArgs {
  /** The file name in the cache folder, or an absolute path (Keras's `path` argument). */
  readonly path?: string;
  /** The cache root (default ~/.keras); files live in its `datasets` folder. */
  readonly cacheDir?: string;
  /** Where to download from when the file is missing (default: Keras's origin). */
  readonly origin?: string;
  readonly timeoutMs?: number;
  /** Overrides the expected hash of the standard file; null skips the check (for a file of your own in the same format). */
  readonly fileHash?: string | null;
  readonly log?: (message: string) => void;
}

export interface DatasetSpec {
  readonly dataset: string;
  readonly fname: string;
  readonly origin: string;
  readonly fileHash?: string;
  readonly untar?: boolean;
}

export async function datasetFile(spec: DatasetSpec, args: DatasetFileArgs = {}): Promise<string> {
  const fname = args.path ?? spec.fname;
  const origin = args.origin ?? spec.origin;
  const fileHash = args.fileHash === null ? undefined : args.fileHash ?? spec.fileHash;
  try {
    return await getFile(fname, origin, { fileHash, untar: spec.untar, cacheDir: args.cacheDir, timeoutMs: args.timeoutMs ?? 30_000, log: args.log ?? (() => {}) });
  } catch (e) {
    const target = join(cacheFolder(args.cacheDir), fname);
    const place = spec.untar ? `${target}.tar.gz (the archive ${origin.split('/').pop()}), or its extracted folder at ${target}` : target;
    throw new Error(`${spec.dataset}: the data file is missing and could not be downloaded (${(e as Error).message}). Download ${origin} on a machine with internet access and place it at ${place}${fileHash ? ` (hash ${fileHash})` : ''}`);
  }
}
