/** kiln/runtime's import graph stays inside runtime/bundle and Node's built-ins: no compiler, no FFI package, no Keras front end. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');

/** Every module reachable from `entry` by static or dynamic import: local files and bare specifiers. */
function importGraph(entry: string): { files: Set<string>; external: Set<string> } {
  const files = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.')) visit(resolve(dirname(file), fileName.replace(/\.js$/, '.ts')));
      else external.add(fileName);
    }
  };
  visit(entry);
  return { files, external };
}

describe('kiln/runtime import graph', () => {
  it('reaches only runtime/bundle and node: built-ins', () => {
    const { files, external } = importGraph(join(ROOT, 'runtime/bundle/index.ts'));
    const outside = [...files].map((f) => relative(ROOT, f)).filter((f) => !f.startsWith('runtime/bundle/'));
    expect(outside).toEqual([]);
    expect([...external].filter((s) => !s.startsWith('node:'))).toEqual([]);
    expect(files.size).toBeGreaterThanOrEqual(8);
  });

  it('is what package.json exports as kiln/runtime', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import: string }>; bin: Record<string, string> };
    expect(pkg.exports['./runtime'].import).toBe('./dist/runtime/bundle/index.js');
    expect(pkg.bin.kiln).toBe('./dist/cli/kiln.js');
  });
});
