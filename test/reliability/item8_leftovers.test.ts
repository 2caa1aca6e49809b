/**
 * Issue 10, item 8: leftovers. Stale checkpoint and cache temporaries (older
 * than a minute, writer dead) go at the next save or cache use; toolchain
 * children die with their parent; the cache key is the program's content, so
 * identical models with different names compile once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, callbacks, layers, tensor } from '../../src/index.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { loadCpu } from '../../runtime/cpu/index.js';
import { programKey } from '../../codegen/llvm/toolchain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];

/** True while process `pid` exists (EPERM: it exists under another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'kiln-item8-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  const pid = Number(String(r.stdout).trim());
  expect(processAlive(pid)).toBe(false);
  return pid;
}

function file(path: string, ageMs: number): string {
  writeFileSync(path, 'partial');
  const t = new Date(Date.now() - ageMs);
  utimesSync(path, t, t);
  return path;
}

function model(name: string): Sequential {
  return new Sequential([new layers.Dense(3, { inputShape: [5], name: `${name}_dense`, kernelInitializer: { className: 'RandomUniform', config: { seed: 5 } } })], { name });
}

describe('item 8: stale temporaries', () => {
  it('a save (what ModelCheckpoint calls) removes old temporaries of dead writers, and keeps recent or live ones', async () => {
    const dir = scratch();
    const path = join(dir, 'weights.h5');
    const dead = deadPid();
    const stale = file(join(dir, `.weights.h5.tmp-${dead}-0badc0de`), 5 * 60_000);
    const staleOldName = file(`${path}.tmp-${dead}-1700000000000`, 5 * 60_000);
    const recent = file(join(dir, `.weights.h5.tmp-${dead}-0badc0df`), 1_000);
    const live = file(join(dir, `.weights.h5.tmp-${process.ppid}-0badc0e0`), 5 * 60_000);
    const other = file(join(dir, 'other.h5.tmp-1-1'), 5 * 60_000);
    const m = model('ckpt');
    await m.saveWeights(path);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(staleOldName)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
  });

  it('ModelCheckpoint removes a stale temporary of its file at its next save', async () => {
    const dir = scratch();
    const path = join(dir, 'ckpt.h5');
    const stale = file(join(dir, `.ckpt.h5.tmp-${deadPid()}-00c0ffee`), 5 * 60_000);
    const m = model('ckpt_cb');
    m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
    await m.fit(tensor(new Float32Array(20), [4, 5]), tensor(new Float32Array(12), [4, 3]), { verbose: 0, callbacks: [new callbacks.ModelCheckpoint(path, { saveWeightsOnly: true })] });
    expect(existsSync(path)).toBe(true);
    expect(existsSync(stale)).toBe(false);
  });

  it('a compile removes old cache temporaries of dead compiles', async () => {
    const cacheDir = scratch();
    const dead = deadPid();
    const key = 'ab'.repeat(16);
    const stale = ['.bc', '.opt.bc', '.o', '.so'].map((ext) => file(join(cacheDir, `${key}.${dead}.1700000000000${ext}`), 5 * 60_000));
    stale.push(file(join(cacheDir, `philox-${key}.${dead}.1700000000000.c`), 5 * 60_000));
    const recent = file(join(cacheDir, `${key}.${dead}.1700000000001.o`), 1_000);
    const m = model('cache_tmp');
    const { program } = compileToProgram(m.buildGraph(2), { name: 'cache_tmp' });
    const exe = await loadCpu(program, { cacheDir });
    exe.dispose();
    for (const f of stale) expect(existsSync(f)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });
});

describe('item 8: toolchain children die with their parent', () => {
  it('a child started the way opt-14 and llc-14 are is killed when its parent is SIGKILLed', async () => {
    const script = `
      import { execFile } from 'node:child_process';
      import { dyingWithParent } from './dist/runtime/cpu/temporaries.js';
      const [file, args] = dyingWithParent('sh', ['-c', 'echo $$; exec sleep 60']);
      const child = execFile(file, args);
      child.stdout.on('data', (d) => process.stdout.write(d));`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve, reject) => {
      parent.stdout.once('data', (d) => resolve(Number(String(d).trim())));
      parent.once('exit', (code) => reject(new Error(`parent exited with ${code} before starting its child`)));
    });
    expect(processAlive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    await new Promise((r) => parent.once('exit', r));
    const deadline = Date.now() + 3000;
    while (processAlive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const alive = processAlive(childPid);
    if (alive) process.kill(childPid, 'SIGKILL');
    expect(alive).toBe(false);
  });
});

describe('item 8: the compile cache key is the program content', () => {
  it('three identical models with different model and layer names have one key and compile once', async () => {
    const cacheDir = scratch();
    const programs = ['first', 'second', 'third'].map((name) => compileToProgram(model(name).buildGraph(4), { name: `${name}_b4` }).program);
    expect(new Set(programs.map((p) => p.name)).size).toBe(3);
    const keys = programs.map((p) => programKey(p, 1, 256));
    expect(new Set(keys).size).toBe(1);
    const fromCache: boolean[] = [];
    for (const p of programs) {
      const exe = await loadCpu(p, { cacheDir, threads: 1 });
      fromCache.push(exe.fromCache ?? false);
      exe.dispose();
    }
    expect(fromCache).toEqual([false, true, true]);
  });

  it('a different program still has a different key', () => {
    const a = compileToProgram(model('k1').buildGraph(4), { name: 'k' }).program;
    const b = compileToProgram(model('k2').buildGraph(8), { name: 'k' }).program;
    expect(programKey(a, 1, 256)).not.toBe(programKey(b, 1, 256));
  });
});
