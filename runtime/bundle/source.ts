/**
 * Where a bundle's files come from: a folder on disk in Node, or a URL
 * (fetch) in a browser or anywhere a location starts with http(s):. Node's
 * modules are imported only on the disk path, so the runtime loads in a page.
 */

export interface BundleSource {
  /** How errors name the bundle (its folder or URL). */
  readonly where: string;
  bytes(file: string): Promise<Uint8Array<ArrayBuffer>>;
  text(file: string): Promise<string>;
  /** A path the OS can open (native objects), or null where there is none (URLs). */
  path(file: string): Promise<string | null>;
}

const isUrl = (s: string): boolean => /^(https?|file|blob):/.test(s);

function checkName(file: string): string {
  // File names come from the manifest: a bundle may only name files inside itself.
  if (!/^[A-Za-z0-9_.-]+$/.test(file) || file.startsWith('.')) throw new Error(`kiln runtime: the manifest names file '${file}', which is not a plain file name in the bundle`);
  return file;
}

function urlSource(base: URL): BundleSource {
  const where = base.href.replace(/\/$/, '');
  const get = async (file: string): Promise<Response> => {
    const res = await fetch(new URL(checkName(file), base));
    if (!res.ok) throw new Error(`kiln runtime: ${where}/${file}: HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  return {
    where,
    bytes: async (file) => new Uint8Array(await (await get(file)).arrayBuffer()),
    text: async (file) => (await get(file)).text(),
    path: async () => null,
  };
}

function diskSource(dir: string): BundleSource {
  const read = async (file: string): Promise<Buffer> => {
    const [{ readFile }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
    try {
      return await readFile(join(dir, checkName(file)));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Error(`kiln runtime: cannot read ${dir}/${file}${code === 'ENOENT' ? ': no such file (is this folder a bundle written by kiln compile?)' : `: ${(e as Error).message}`}`);
    }
  };
  return {
    where: dir,
    bytes: async (file) => {
      const b = await read(file);
      return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
    },
    text: async (file) => (await read(file)).toString('utf8'),
    path: async (file) => (await import('node:path')).resolve(dir, checkName(file)),
  };
}

export function openSource(location: string | URL): BundleSource {
  const inNode = typeof process !== 'undefined' && !!process.versions?.node;
  const url = location instanceof URL ? location : isUrl(location) ? new URL(location) : null;
  // A file: URL in Node (a bundle's entry passes its own folder) reads from disk.
  if (url?.protocol === 'file:' && inNode) return diskSource(decodeURIComponent(url.pathname));
  if (url) return urlSource(new URL(url.href.endsWith('/') ? url.href : `${url.href}/`));
  const path = location as string;
  if (!inNode) return urlSource(new URL(path.endsWith('/') ? path : `${path}/`, globalThis.location?.href));
  return diskSource(path);
}
