/** Where the dataset loaders find their files: getFile from the cache, with an error that says what to put where. */
import { join } from 'node:path';
import { cacheFolder, getFile } from './get_file.js';
import { type KerasOptions, type OptionSpec, optionSpec, readOptions } from '../options.js';

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

export const DATASET_FILE_KEYS = { path: true, cacheDir: true, origin: true, timeoutMs: true, fileHash: true, log: true } as const;

/** A loader's options, read as every public options object is (camelCase or snake_case, unknown keys refused). */
export function datasetOptions<T extends DatasetFileArgs>(where: string, given: KerasOptions<T> | undefined, extra: Omit<Record<keyof T & string, true>, keyof DatasetFileArgs>): T {
  return readOptions(where, given ?? {}, optionSpec<T>({ ...DATASET_FILE_KEYS, ...extra } as Record<keyof T & string, true>) as OptionSpec<T>);
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
