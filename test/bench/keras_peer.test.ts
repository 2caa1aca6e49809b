import { describe, expect, it } from 'vitest';
import { findKerasPython, kerasHeader, kerasRows, parseKerasLine, runKerasPeer, type KerasFigures } from '../../bench/keras_peer.js';

const line = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({
    backend: 'jax', versions: { keras: '3.15.1', jax: '0.10.2' }, cpus: 2, jit_compile: true, fit: 400,
    predict: { 1: 200, 32: 1600, 128: 3200 }, predict_on_batch: { 1: 500, 32: 2000, 128: 4000 }, ...over,
  });

describe('keras peer of bench:cnn', () => {
  it('reads the last JSON line of the child, past library noise', () => {
    const k = parseKerasLine(`I0000 oneDNN custom operations are on\n{"not": "this one"}\n${line()}\n`, 'jax');
    expect(k.fit).toBe(400);
    expect(k.predict[32]).toBe(1600);
    expect(k.predictOnBatch[128]).toBe(4000);
    expect(k.jitCompile).toBe(true);
    expect(k.versions.jax).toBe('0.10.2');
  });

  it('takes a null fit (KILN_BENCH_CNN_ONLY=predict)', () => {
    expect(parseKerasLine(line({ fit: null }), 'jax').fit).toBeNull();
  });

  it('refuses output that is not the figures it asked for', () => {
    expect(() => parseKerasLine('Traceback (most recent call last):\n', 'jax')).toThrow(/keras-jax: printed no JSON line/);
    expect(() => parseKerasLine('{"backend": ', 'jax')).toThrow(/keras-jax: its last line is not JSON/);
    expect(() => parseKerasLine(line(), 'tensorflow')).toThrow(/ran backend "jax", expected tensorflow/);
    expect(() => parseKerasLine(line({ predict: { 1: 200, 32: 1600 } }), 'jax')).toThrow(/predict at batch 128 should be a positive number of samples\/s, got undefined/);
    expect(() => parseKerasLine(line({ fit: -1 }), 'jax')).toThrow(/fit should be a positive number/);
    expect(() => parseKerasLine(line({ cpus: 0 }), 'jax')).toThrow(/cpus should be a positive integer/);
  });

  it('rates kiln against each figure, in columns under the header', () => {
    const k: KerasFigures = parseKerasLine(line(), 'jax');
    const rows = kerasRows({ fit: 800, predict: { 1: 100, 32: 3200, 128: 3200 } }, k);
    expect(rows[0]).toMatch(/^keras 3\.15\.1 jax 0\.10\.2 +400 +2\.00 +200 +0\.50 +1,600 +2\.00 +3,200 +1\.00$/);
    expect(rows[1]).toMatch(/^ +xla on; predict_on_batch +500 +0\.20 +2,000 +1\.60 +4,000 +0\.80$/);
    for (const r of rows) expect(r.length).toBe(kerasHeader().length);
    const wide = kerasRows({ fit: 800, predict: { 1: 24_000, 32: 3200, 128: 3200 } }, k);
    expect(wide[0]).toMatch(/ 200 +120 +1,600 /);
    expect(wide[1]).toMatch(/ 500 +48\.0 +2,000 /);
    expect(wide[0].length).toBe(kerasHeader().length);
  });

  it('without a Keras python, gives the setup command instead', () => {
    const unset = findKerasPython({ HOME: '/nonexistent-home' });
    expect(unset).toEqual({ hint: expect.stringMatching(/no Keras virtualenv at \/nonexistent-home\/\.cache\/kiln-keras-venv.*bash bench\/peers\/setup-keras\.sh$/) });
    const chosen = findKerasPython({ KILN_BENCH_KERAS_PYTHON: '/nonexistent/bin/python' });
    expect(chosen).toEqual({ hint: expect.stringMatching(/KILN_BENCH_KERAS_PYTHON=\/nonexistent\/bin\/python does not exist.*setup-keras\.sh DIR/) });
    expect(findKerasPython({ KILN_BENCH_KERAS_PYTHON: process.execPath })).toEqual({ python: process.execPath });
  });

  it('turns a child that cannot start or fails into an error naming the backend', async () => {
    await expect(runKerasPeer('/nonexistent/bin/python', 'tensorflow', 2)).rejects.toThrow(/keras-tensorflow: could not start \/nonexistent\/bin\/python/);
    // node reading the Python script fails on its first line, as a broken venv would.
    await expect(runKerasPeer(process.execPath, 'jax', 2)).rejects.toThrow(/keras-jax: .* exited with code 1:\n/);
  });
});
