/**
 * The runtime as a package of its own: runtime/bundle's modules transpiled
 * to JavaScript under the `kiln` name with only the `kiln/runtime` export
 * and no dependencies, which is everything a deployed bundle needs
 * (`npm pack` of the folder gives the tarball an app installs). Tests
 * install it into a clean folder; bench:bundle reports its size.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** runtime/bundle in the source tree (this file lives in codegen/bundle, in src or dist). */
function runtimeSourceDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('package.json')) dir = dirname(dir);
  return join(dir, 'runtime', 'bundle');
}

export interface RuntimePackage {
  readonly dir: string;
  /** Bytes of every file in the package. */
  readonly bytes: number;
}

export function stageRuntimePackage(out: string, version = '0.1.0'): RuntimePackage {
  const src = runtimeSourceDir();
  const lib = join(out, 'runtime');
  mkdirSync(lib, { recursive: true });
  let bytes = 0;
  const write = (path: string, text: string): void => {
    writeFileSync(path, text);
    bytes += Buffer.byteLength(text);
  };
  for (const f of readdirSync(src).filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(src, f), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, removeComments: true }, fileName: f });
    write(join(lib, f.replace(/\.ts$/, '.js')), outputText);
  }
  const pkg = { name: 'kiln', version, description: 'Kiln bundle runtime: runs models compiled by kiln compile, with no compiler', type: 'module', license: 'MIT', engines: { node: '>=20' }, exports: { './runtime': './runtime/index.js' }, files: ['runtime'] };
  write(join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  return { dir: out, bytes };
}
