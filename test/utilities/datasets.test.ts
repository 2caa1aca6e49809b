/**
 * keras.datasets readers and utils.getFile. The tests write each standard
 * file format themselves (helpers/keras_files.ts: Python 2 cPickle as the
 * CIFAR archives hold, npz with object arrays as imdb/reuters); the files in
 * data/ were written by real numpy 2.4 with:
 *   np.savez('numpy_imdb_like.npz', x_train=np.array([[1,5,2],[7,3],[4]], dtype=object), y_train=np.array([1,0,1]),
 *            x_test=np.array([[2,2],[9,1,1,1]], dtype=object), y_test=np.array([0,1]))
 *   np.savez_compressed('numpy_boston_like.npz', x=np.arange(20.).reshape(5,4)/3, y=np.arange(5.)*1.5)
 *   pickle.dumps({b'batch_label': ..., b'labels': [3, 7], b'data': (np.arange(6144) % 256).astype(uint8).reshape(2,3072), ...}, protocol=2 and 4)
 * and the expected outputs come from Keras 2.2.4's load_data code run on them.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cifar10, cifar100, loadBatch } from '../../src/datasets/cifar.js';
import * as boston_housing from '../../src/datasets/boston_housing.js';
import { getFile } from '../../src/datasets/get_file.js';
import * as imdb from '../../src/datasets/imdb.js';
import * as mnist from '../../src/datasets/mnist.js';
import { parseNpy } from '../../src/datasets/npy.js';
import { NumpyRandomState } from '../../src/datasets/numpy_random.js';
import * as reuters from '../../src/datasets/reuters.js';
import { float64s, int64s, npy, objectNpy, pickle2, tarGz, zip } from './helpers/keras_files.js';

const DATA = join(import.meta.dirname, 'data');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** A cache root with the file placed where Keras keeps it. */
function cacheWith(files: Record<string, Uint8Array | string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kiln-keras-'));
  mkdirSync(join(root, 'datasets'), { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, 'datasets', name), data);
  return root;
}
// Files written here are not Keras's own, so their hash differs: fileHash null skips the check.
const NO_NET = { origin: 'http://127.0.0.1:9/none', timeoutMs: 2000, fileHash: null };

describe('file formats', () => {
  it('reads numpy-written pickles of both protocols and npz files (stored and deflated)', () => {
    for (const p of ['numpy_cifar_batch_protocol2.pkl', 'numpy_cifar_batch_protocol4.pkl']) {
      const b = loadBatch(join(DATA, p));
      expect(b.labels).toEqual([3, 7]);
      expect(Array.from(b.data.subarray(0, 3))).toEqual([0, 1, 2]);
      expect(b.data[3071]).toBe(3071 % 256);
      expect(b.data[6143]).toBe(6143 % 256);
    }
    const a = parseNpy(npy('<i8', [2, 2], int64s([1, -2, 3, 2 ** 31 - 1])), 'x.npy');
    expect(a.shape).toEqual([2, 2]);
  });

  it('refuses globals other than numpy arrays (loading never runs code)', () => {
    const evil = new Uint8Array(Buffer.from("\x80\x02cos\nsystem\nU\x02lsq\x01\x85R.", 'latin1'));
    const dir = mkdtempSync(join(tmpdir(), 'kiln-p-'));
    writeFileSync(join(dir, 'data_batch_1'), evil);
    expect(() => loadBatch(join(dir, 'data_batch_1'))).toThrow(/global 'os system' is not allowed/);
  });
});

describe('datasets', () => {
  it('mnist reads mnist.npz from the cache (uint8 tensors) and names a truncated file', async () => {
    const x = Uint8Array.from({ length: 2 * 28 * 28 }, (_, i) => i % 251);
    const file = zip([['x_train.npy', npy('|u1', [2, 28, 28], x)], ['y_train.npy', npy('|u1', [2], Uint8Array.of(5, 0))], ['x_test.npy', npy('|u1', [1, 28, 28], x.subarray(0, 784))], ['y_test.npy', npy('|u1', [1], Uint8Array.of(7))]]);
    const [[xTrain, yTrain], [xTest, yTest]] = await mnist.loadData({ cacheDir: cacheWith({ 'mnist.npz': file }), ...NO_NET });
    expect(xTrain.shape).toEqual([2, 28, 28]);
    expect(xTrain.dtype).toBe('uint8');
    expect(xTrain.data[785]).toBe(785 % 251);
    expect(Array.from(yTrain.data)).toEqual([5, 0]);
    expect(xTest.shape).toEqual([1, 28, 28]);
    expect(Array.from(yTest.data)).toEqual([7]);
    const truncated = cacheWith({ 'mnist.npz': file.subarray(0, file.length - 40) });
    await expect(mnist.loadData({ cacheDir: truncated, ...NO_NET })).rejects.toThrow(/mnist\.npz: not a zip archive, or truncated/);
    const wrongShape = zip([['x_train.npy', npy('|u1', [2, 28, 28], x.subarray(0, 100))]]);
    await expect(mnist.loadData({ cacheDir: cacheWith({ 'mnist.npz': wrongShape }), ...NO_NET })).rejects.toThrow(/mnist\.npz:x_train: truncated or corrupt: shape \[2, 28, 28\] of \|u1 needs 1568 bytes, found 100/);
  });

  it('a missing file names the file, the folder and the origin', async () => {
    const root = cacheWith({});
    await expect(mnist.loadData({ cacheDir: root, timeoutMs: 2000, origin: 'http://127.0.0.1:9/mnist.npz' })).rejects.toThrow(
      new RegExp(`mnist: the data file is missing and could not be downloaded \\(URL fetch failure on http://127\\.0\\.0\\.1:9/mnist\\.npz.*place it at ${root}/datasets/mnist\\.npz \\(hash 8a61469f7ea1b51cbae51d4f78837e45\\)`),
    );
    const stale = cacheWith({ 'mnist.npz': 'not the real file' });
    await expect(mnist.loadData({ cacheDir: stale, origin: 'http://127.0.0.1:9/m' })).rejects.toThrow(/mnist: the data file is missing and could not be downloaded.*place it at .*mnist\.npz \(hash 8a61/);
    await expect(cifar10.loadData({ cacheDir: root, ...NO_NET })).rejects.toThrow(/cifar10: .*cifar-10-batches-py\.tar\.gz \(the archive none\), or its extracted folder at .*cifar-10-batches-py/);
  });

  it('cifar10 and cifar100 read the pickled batches of the archive, channels last', async () => {
    const batch = (n: number, seed: number, labels: Record<string, number[]>): Uint8Array => {
      const data = Uint8Array.from({ length: n * 3072 }, (_, i) => (i * 7 + seed) % 256);
      return pickle2(new Map<string, never>([['batch_label', 'training batch' as never], ...Object.entries(labels).map(([k, v]) => [k, v as never] as [string, never]), ['data', { ndarray: { descr: '|u1', shape: [n, 3072], raw: data } } as never], ['filenames', ['a.png'] as never]]));
    };
    const files: [string, Uint8Array][] = [['cifar-10-batches-py/', new Uint8Array(0)], ...[1, 2, 3, 4, 5].map((i) => [`cifar-10-batches-py/data_batch_${i}`, batch(2, i, { labels: [i, 9 - i] })] as [string, Uint8Array]), ['cifar-10-batches-py/test_batch', batch(1, 0, { labels: [4] })]];
    const root = cacheWith({ 'cifar-10-batches-py.tar.gz': tarGz(files) });
    const [[x, y], [xt, yt]] = await cifar10.loadData({ cacheDir: root, ...NO_NET });
    expect(x.shape).toEqual([10, 32, 32, 3]);
    expect(y.shape).toEqual([10, 1]);
    expect(Array.from(y.data)).toEqual([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    // Pixel (row 1, col 2), channel 2 of image 3 (batch 2, image 1) is data[1][2 * 1024 + 1 * 32 + 2] of that batch.
    expect(x.data[3 * 3072 + (1 * 32 + 2) * 3 + 2]).toBe(((3072 + 2 * 1024 + 34) * 7 + 2) % 256);
    expect(xt.shape).toEqual([1, 32, 32, 3]);
    expect(Array.from(yt.data)).toEqual([4]);
    expect(existsSync(join(root, 'datasets', 'cifar-10-batches-py', 'test_batch'))).toBe(true);

    const c100: [string, Uint8Array][] = [['cifar-100-python/train', batch(2, 1, { fine_labels: [55, 3], coarse_labels: [12, 0] })], ['cifar-100-python/test', batch(1, 2, { fine_labels: [99], coarse_labels: [19] })]];
    const root100 = cacheWith({ 'cifar-100-python.tar.gz': tarGz(c100) });
    expect(Array.from((await cifar100.loadData('fine', { cacheDir: root100, ...NO_NET }))[0][1].data)).toEqual([55, 3]);
    expect(Array.from((await cifar100.loadData('coarse', { cacheDir: root100, ...NO_NET }))[1][1].data)).toEqual([19]);
    await expect(cifar100.loadData('medium' as 'fine', { cacheDir: root100 })).rejects.toThrow(/labelMode must be 'fine' or 'coarse', got "medium"/);
  });

  it('imdb: numpy-written npz and a generated Python 2 one give Keras 2.2.4\'s outputs for the same options', async () => {
    const generated = zip([['x_train.npy', objectNpy([[1, 5, 2], [7, 3], [4]])], ['y_train.npy', npy('<i8', [3], int64s([1, 0, 1]))], ['x_test.npy', objectNpy([[2, 2], [9, 1, 1, 1]])], ['y_test.npy', npy('<i8', [2], int64s([0, 1]))]]);
    for (const root of [cacheWith({ 'imdb.npz': readFileSync(join(DATA, 'numpy_imdb_like.npz')) }), cacheWith({ 'imdb.npz': generated })]) {
      const [[x, y], [xt, yt]] = await imdb.loadData({ cacheDir: root, ...NO_NET });
      expect(x).toEqual([[1, 7], [1, 4, 8, 5], [1, 10, 6]]);
      expect(Array.from(y.data)).toEqual([1, 1, 0]);
      expect(xt).toEqual([[1, 2, 4, 4, 4], [1, 5, 5]]);
      expect(Array.from(yt.data)).toEqual([1, 0]);
      const [[x2], [xt2]] = await imdb.loadData({ cacheDir: root, numWords: 8, skipTop: 4, seed: 1, ...NO_NET });
      expect(x2).toEqual([[2, 4, 2, 5], [2, 7], [2, 2, 6]]);
      expect(xt2).toEqual([[2, 2, 4, 4, 4], [2, 5, 5]]);
      const [[x3], [xt3]] = await imdb.loadData({ cacheDir: root, numWords: 8, oovChar: null, startChar: null, indexFrom: 0, ...NO_NET });
      expect(x3).toEqual([[4], [1, 5, 2], [7, 3]]);
      expect(xt3).toEqual([[1, 1, 1], [2, 2]]);
      const [[x4, y4], [xt4]] = await imdb.loadData({ cacheDir: root, maxlen: 4, ...NO_NET });
      // The longest review is dropped first, so the top word is now 10, which numWords = max excludes (w < numWords) as Keras does.
      expect(x4).toEqual([[1, 7], [1, 2, 6]]);
      expect(Array.from(y4.data)).toEqual([1, 0]);
      expect(xt4).toEqual([[1, 5, 5]]);
    }
    const index = cacheWith({ 'imdb_word_index.json': '{"the": 1, "and": 2}' });
    expect(await imdb.getWordIndex({ cacheDir: index, ...NO_NET })).toEqual({ the: 1, and: 2 });
    await expect(imdb.loadData({ cacheDir: cacheWith({ 'imdb.npz': generated }), maxlen: 1, ...NO_NET })).rejects.toThrow(/no sequence was kept\. Increase maxlen/);
    const wrong = zip([['x_train.npy', npy('<i8', [3], int64s([1, 2, 3]))], ['y_train.npy', npy('<i8', [3], int64s([1, 0, 1]))]]);
    await expect(imdb.loadData({ cacheDir: cacheWith({ 'imdb.npz': wrong }), ...NO_NET })).rejects.toThrow(/x_train: expected an object array of word-index lists, got dtype <i8/);
  });

  it('reuters shuffles with numpy\'s seed and splits at 1 - testSplit; boston_housing likewise', async () => {
    const lists = [[1], [2, 3], [4], [5, 6], [7]];
    const root = cacheWith({ 'reuters.npz': zip([['x.npy', objectNpy(lists)], ['y.npy', npy('<i8', [5], int64s([10, 20, 30, 40, 50]))]]) });
    const [[x, y], [xt, yt]] = await reuters.loadData({ cacheDir: root, ...NO_NET });
    // np.random.seed(113); np.random.permutation(5), which numpy_random.test.ts checks against numpy.
    const perm = new NumpyRandomState(113).permutation(5);
    expect(Array.from(y.data).concat(Array.from(yt.data))).toEqual(perm.map((i) => [10, 20, 30, 40, 50][i]));
    expect(x.length).toBe(4);
    expect(xt.length).toBe(1);
    expect(x[0]).toEqual([1, ...lists[perm[0]].map((w) => w + 3)].map((w) => (w < 10 ? w : 2)));

    const [[bx, by], [tx, ty]] = await boston_housing.loadData({ cacheDir: cacheWith({ 'boston_housing.npz': readFileSync(join(DATA, 'numpy_boston_like.npz')) }), ...NO_NET });
    expect(bx.dtype).toBe('float64');
    expect(bx.toArray()).toEqual([[4 / 3, 5 / 3, 2, 7 / 3], [0, 1 / 3, 2 / 3, 1], [4, 13 / 3, 14 / 3, 5], [8 / 3, 3, 10 / 3, 11 / 3]]);
    expect(Array.from(by.data)).toEqual([1.5, 0, 4.5, 3]);
    expect(tx.toArray()).toEqual([[16 / 3, 17 / 3, 6, 19 / 3]]);
    expect(Array.from(ty.data)).toEqual([6]);
    const generated = zip([['x.npy', npy('<f8', [2, 1], float64s([1, 2]))], ['y.npy', npy('<f8', [2], float64s([3, 4]))]], true);
    expect((await boston_housing.loadData({ cacheDir: cacheWith({ 'boston_housing.npz': generated }), testSplit: 0.5, seed: 0, ...NO_NET }))[0][0].shape).toEqual([1, 1]);
  });
});

describe('getFile', () => {
  let server: Server;
  let base = '';
  const hits: string[] = [];
  const payload = new Uint8Array(Buffer.from('hello kiln'));
  const mnistFile = zip([['x_train.npy', npy('|u1', [1, 28, 28], new Uint8Array(784).fill(3))], ['y_train.npy', npy('|u1', [1], Uint8Array.of(9))], ['x_test.npy', npy('|u1', [1, 28, 28], new Uint8Array(784))], ['y_test.npy', npy('|u1', [1], Uint8Array.of(1))]]);
  const files: Record<string, Uint8Array> = {
    '/mnist.npz': mnistFile,
    '/hello.txt': payload,
    '/pack.tar.gz': tarGz([['pack/', new Uint8Array(0)], ['pack/a.txt', payload]]),
    '/pack.zip': zip([['z/b.txt', payload]], true),
    '/evil.tar.gz': tarGz([['../escaped.txt', payload]]),
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/silent') return;
      if (req.url === '/slow-body') {
        res.write('hello ');
        return void setTimeout(() => res.end('kiln'), 300);
      }
      const body = files[req.url ?? ''];
      if (!body) return void res.writeHead(404).end('missing');
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('downloads into cacheDir/cacheSubdir, checks md5 and sha256, re-downloads a stale file and reuses a good one', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-get-'));
    const log: string[] = [];
    const path = await getFile('hello.txt', `${base}/hello.txt`, { cacheDir, fileHash: md5(payload), log: (m) => log.push(m) });
    expect(path).toBe(join(cacheDir, 'datasets', 'hello.txt'));
    expect(readFileSync(path, 'utf8')).toBe('hello kiln');
    const before = hits.length;
    await getFile('hello.txt', `${base}/hello.txt`, { cacheDir, fileHash: createHash('sha256').update(payload).digest('hex'), log: (m) => log.push(m) });
    expect(hits.length).toBe(before);
    writeFileSync(path, 'stale');
    await getFile('hello.txt', `${base}/hello.txt`, { cacheDir, md5Hash: md5(payload), log: (m) => log.push(m) });
    expect(hits.length).toBe(before + 1);
    expect(log.some((m) => /hash does not match the original value/.test(m))).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('hello kiln');
    await expect(getFile('other.txt', `${base}/hello.txt`, { cacheDir, fileHash: '0'.repeat(32), log: () => {} })).rejects.toThrow(/has hash [0-9a-f]{32}, expected 0{32}; it was removed/);
    expect(existsSync(join(cacheDir, 'datasets', 'other.txt'))).toBe(false);
    await expect(getFile('nope', `${base}/nope`, { cacheDir, log: () => {} })).rejects.toThrow(/URL fetch failure on .*\/nope: HTTP 404/);
  });

  it('a dataset loader downloads its missing file into the cache, checks its hash, and reads it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-get-'));
    const [[x, y]] = await mnist.loadData({ cacheDir, origin: `${base}/mnist.npz`, fileHash: md5(mnistFile) });
    expect(existsSync(join(cacheDir, 'datasets', 'mnist.npz'))).toBe(true);
    expect([x.data[0], y.data[0]]).toEqual([3, 9]);
    const other = mkdtempSync(join(tmpdir(), 'kiln-get-'));
    await expect(mnist.loadData({ cacheDir: other, origin: `${base}/mnist.npz` })).rejects.toThrow(/mnist: the data file is missing and could not be downloaded \(getFile: the file downloaded from .* has hash [0-9a-f]{32}, expected 8a61469f7ea1b51cbae51d4f78837e45; it was removed\)/);
  });

  it('timeoutMs bounds the wait for an answer, not the transfer', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-get-'));
    await expect(getFile('silent', `${base}/silent`, { cacheDir, timeoutMs: 150, log: () => {} })).rejects.toThrow(/URL fetch failure on .*\/silent: no response within 150 ms/);
    expect(existsSync(join(cacheDir, 'datasets', 'silent'))).toBe(false);
    expect(readFileSync(await getFile('slow', `${base}/slow-body`, { cacheDir, timeoutMs: 150, log: () => {} }), 'utf8')).toBe('hello kiln');
  });

  it('untar extracts a tar.gz beside it; extract unpacks a zip; cacheSubdir is honoured', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-get-'));
    const dir = await getFile('pack', `${base}/pack.tar.gz`, { cacheDir, untar: true, log: () => {} });
    expect(dir).toBe(join(cacheDir, 'datasets', 'pack'));
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('hello kiln');
    const z = await getFile('pack.zip', `${base}/pack.zip`, { cacheDir, extract: true, cacheSubdir: 'models', log: () => {} });
    expect(z).toBe(join(cacheDir, 'models', 'pack.zip'));
    expect(readFileSync(join(cacheDir, 'models', 'z', 'b.txt'), 'utf8')).toBe('hello kiln');
    await expect(getFile('evil', `${base}/evil.tar.gz`, { cacheDir, untar: true, log: () => {} })).rejects.toThrow(/archive member '\.\.\/escaped\.txt' would be written outside/);
    expect(existsSync(join(cacheDir, 'escaped.txt'))).toBe(false);
    copyFileSync(join(cacheDir, 'datasets', 'pack', 'a.txt'), join(cacheDir, 'datasets', 'plain.txt'));
    await expect(getFile('plain.txt', `${base}/x`, { cacheDir, extract: true, log: () => {} })).rejects.toThrow(/plain\.txt is not a tar or zip archive/);
  });
});
