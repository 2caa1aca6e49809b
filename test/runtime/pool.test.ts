/**
 * Kiln's thread pool (codegen/llvm/pool_source.ts), driven through a small C
 * harness linked against the pool library as programs are: every row of a
 * region runs exactly once; workers take chunks; a worker that falls behind
 * (here: one that sleeps 2 ms in every chunk it takes, as a worker on a core
 * another process holds would stall) sends the regions to the caller alone,
 * and the team is probed again later; KILN_NUM_THREADS caps the team.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolLibrary } from '../../codegen/llvm/pool.js';

const HARNESS_C = String.raw`#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
void kiln_parallel(void (*fn)(void *, int64_t, int64_t), void *bases, int64_t rows, int64_t chunk, int32_t threads);
void kiln_pool_stats(uint64_t out[6]);
static pthread_t caller;
static int worker_sleep_us;
static _Atomic int64_t worker_rows;
static volatile double sink;
static void count(void *bases, int64_t lo, int64_t hi) {
  int32_t *hits = bases;
  if (!pthread_equal(pthread_self(), caller)) {
    atomic_fetch_add(&worker_rows, hi - lo);
    if (worker_sleep_us) {
      struct timespec ts = { 0, worker_sleep_us * 1000L };
      nanosleep(&ts, 0);
    }
  }
  for (int64_t i = lo; i < hi; i++) {
    double s = 0;
    for (int k = 0; k < 200; k++) s += k * 0.5;
    sink = s;
    hits[i]++;
  }
}
/* Runs regions over rows in chunks on threads; returns the rows workers ran. */
int64_t run_regions(int32_t *hits, int64_t rows, int64_t chunk, int32_t threads, int32_t regions, int32_t sleep_us) {
  caller = pthread_self();
  worker_sleep_us = sleep_us;
  atomic_store(&worker_rows, 0);
  for (int r = 0; r < regions; r++) kiln_parallel(count, hits, rows, chunk, threads);
  return atomic_load(&worker_rows);
}
void pool_stats(uint64_t out[6]) { kiln_pool_stats(out); }
`;

const dir = mkdtempSync(join(tmpdir(), 'kiln-pool-test-'));
let harness = '';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const pool = await poolLibrary(join(dir, 'cache'));
  writeFileSync(join(dir, 'harness.c'), HARNESS_C);
  harness = join(dir, 'harness.so');
  execFileSync('cc', ['-O1', '-fPIC', '-shared', '-pthread', '-o', harness, join(dir, 'harness.c'), pool]);
});

interface Stats { team: number; alone: number; fallbacks: number; probes: number; workers: number; busy: number }

function open() {
  const lib = koffi.load(harness);
  const run = lib.func('int64_t run_regions(_Inout_ int32_t *hits, int64_t rows, int64_t chunk, int32_t threads, int32_t regions, int32_t sleep_us)');
  const statsOf = lib.func('void pool_stats(_Out_ uint64_t *out)');
  return {
    run: (hits: Int32Array, chunk: number, threads: number, regions: number, sleepUs = 0): number => Number(run(hits, hits.length, chunk, threads, regions, sleepUs)),
    stats: (): Stats => {
      const out = new BigUint64Array(6);
      statsOf(out);
      const [team, alone, fallbacks, probes, workers, busy] = Array.from(out, Number);
      return { team, alone, fallbacks, probes, workers, busy };
    },
  };
}

describe('kiln_parallel', () => {
  it('runs every row of every region exactly once, for uneven chunks and several team sizes', () => {
    const pool = open();
    for (const [threads, chunk] of [[2, 7], [3, 1], [4, 64], [2, 1000]]) {
      const hits = new Int32Array(1000);
      pool.run(hits, chunk, threads, 200);
      expect(hits.every((h) => h === 200), `threads ${threads}, chunk ${chunk}: rows hit ${Math.min(...hits)}..${Math.max(...hits)} times`).toBe(true);
    }
  });

  it('workers take chunks while they keep up', () => {
    const pool = open();
    const hits = new Int32Array(512);
    expect(pool.run(hits, 16, 2, 400)).toBeGreaterThan(0);
    expect(pool.stats().workers).toBeGreaterThanOrEqual(1);
  });

  it('a worker that falls behind sends the regions to the caller alone, and the team is probed again', () => {
    const pool = open();
    const before = pool.stats();
    const hits = new Int32Array(256);
    // Each region is about 50 us of work; a worker chunk takes over 2 ms. Without the fallback every region would wait for it.
    const slowChunks = pool.run(hits, 16, 2, 600, 2000) / 16;
    expect(hits.every((h) => h === 600)).toBe(true);
    const slow = pool.stats();
    // Alone spells (sampling each kernel's alone time accounts for about 1 region in 64, here under 15).
    expect(slow.alone - before.alone).toBeGreaterThan(100);
    // The stalls (2 ms each): at most a probe's loss (PROBE_LOSS_NS, 2 ms, doubling while the team wins) per probe, a few probes
    // in all, where a team that kept waiting would stall in each of the 600 regions.
    // (Team regions the slow worker arrives too late for cost nothing and are not counted here.)
    expect(slowChunks).toBeLessThan(60);
    // The worker keeps up again: within half a second of regions a probe finds it and the team comes back.
    const deadline = Date.now() + 500;
    let workerRows = 0;
    while (Date.now() < deadline) workerRows += pool.run(new Int32Array(256), 16, 2, 50);
    expect(pool.stats().probes).toBeGreaterThan(slow.probes);
    expect(workerRows).toBeGreaterThan(0);
  });
});

it('KILN_NUM_THREADS caps the team, read by the pool at its first region', () => {
  const script = `import koffi from 'koffi';
const lib = koffi.load(${JSON.stringify(harness)});
const run = lib.func('int64_t run_regions(_Inout_ int32_t *hits, int64_t rows, int64_t chunk, int32_t threads, int32_t regions, int32_t sleep_us)');
const stats = lib.func('void pool_stats(_Out_ uint64_t *out)');
const hits = new Int32Array(512);
const workerRows = Number(run(hits, 512, 8, 4, 100, 0));
const out = new BigUint64Array(6);
stats(out);
console.log(JSON.stringify({ workerRows, workers: Number(out[4]), ok: hits.every((h) => h === 100) }));`;
  const result = (env: Record<string, string>) => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', env: { ...process.env, ...env } });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout.trim()) as { workerRows: number; workers: number; ok: boolean };
  };
  expect(result({ KILN_NUM_THREADS: '1' })).toEqual({ workerRows: 0, workers: 0, ok: true });
  expect(result({ KILN_NUM_THREADS: '3' }).workers).toBe(2);
});
