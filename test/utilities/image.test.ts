/**
 * keras.preprocessing.image: file helpers, transforms checked against known
 * geometric results (flips, a 90-degree rotation, shifts under each fill
 * mode), random parameters against numpy's draws for the same seed in
 * keras-preprocessing's order, standardization, and the flow iterators on the
 * calling thread and in worker threads.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../../src/index.js';
import { NumpyRandomState } from '../../src/datasets/numpy_random.js';
import { ImageDataGenerator } from '../../src/preprocessing/image_data_generator.js';
import { arrayToImg, imgToArray, loadImg, saveImg } from '../../src/preprocessing/image_utils.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kiln-img-'));
/** A 4x4 single-channel image holding 0..15 row by row. */
const GRID = tensor(Array.from({ length: 4 }, (_, r) => Array.from({ length: 4 }, (_, c) => [r * 4 + c])));
const rowsOf = (t: Tensor): number[][] => (t.toArray() as number[][][]).map((r) => r.map((p) => p[0]));

describe('image files', () => {
  it('saveImg / loadImg / imgToArray round-trip PNG exactly in L, RGB and RGBA', () => {
    const dir = tmp();
    const rgb = tensor(Array.from({ length: 3 }, (_, r) => Array.from({ length: 5 }, (_, c) => [r * 80, c * 60, 255 - r * c * 10])));
    saveImg(join(dir, 'a.png'), rgb, { scale: false });
    const back = imgToArray(loadImg(join(dir, 'a.png')));
    expect(back.shape).toEqual([3, 5, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(rgb.data));
    const rgba = tensor([[[10, 20, 30, 40], [50, 60, 70, 80]]]);
    saveImg(join(dir, 'b.png'), rgba, { scale: false });
    expect(Array.from(imgToArray(loadImg(join(dir, 'b.png'), { colorMode: 'rgba' })).data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    saveImg(join(dir, 'g.png'), GRID, { scale: true });
    const gray = imgToArray(loadImg(join(dir, 'g.png'), { colorMode: 'grayscale' }));
    expect(gray.shape).toEqual([4, 4, 1]);
    // scale=True: shifted to 0 and stretched so the maximum is 255, then truncated to uint8.
    expect(Array.from(gray.data)).toEqual(Array.from({ length: 16 }, (_, i) => Math.trunc((i / 15) * 255)));
    expect(imgToArray(loadImg(join(dir, 'a.png')), 'channels_first').shape).toEqual([3, 3, 5]);
  });

  it('PIL conversions and resizing: L from RGB, nearest and antialiased bilinear', () => {
    const dir = tmp();
    saveImg(join(dir, 'red.png'), tensor([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]), { scale: false });
    // PIL: L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
    expect(Array.from(imgToArray(loadImg(join(dir, 'red.png'), { grayscale: true })).data)).toEqual([76, 150, 29]);
    const ramp = tensor([[0, 70, 140, 210].map((v) => [v]), [0, 70, 140, 210].map((v) => [v])]);
    saveImg(join(dir, 'ramp.png'), ramp, { scale: false });
    // nearest samples floor((x + 0.5) * 4 / 2) = columns 1 and 3.
    expect(Array.from(imgToArray(loadImg(join(dir, 'ramp.png'), { colorMode: 'grayscale', targetSize: [2, 2] })).data)).toEqual([70, 210, 70, 210]);
    // bilinear shrinking by 2 widens the triangle to support 2: weights .75, .75, .25 on columns 0-2 around centre 1.
    const bil = imgToArray(loadImg(join(dir, 'ramp.png'), { colorMode: 'grayscale', targetSize: [2, 2], interpolation: 'bilinear' }));
    expect(Array.from(bil.data)).toEqual([50, 160, 50, 160]);
    // bicubic (a = -0.5), support 4 when shrinking by 2: weights k((i - 0.5) / 2) on columns 0-3 for the first output.
    const k = (t: number): number => (Math.abs(t) < 1 ? (1.5 * Math.abs(t) - 2.5) * t * t + 1 : (((Math.abs(t) - 5) * Math.abs(t) + 8) * Math.abs(t) - 4) * -0.5);
    const w = [0, 1, 2, 3].map((i) => k((i - 0.5) / 2));
    const first = Math.round(w.reduce((s, wi, i) => s + wi * [0, 70, 140, 210][i], 0) / w.reduce((a, b) => a + b, 0));
    const bic = imgToArray(loadImg(join(dir, 'ramp.png'), { colorMode: 'grayscale', targetSize: [2, 2], interpolation: 'bicubic' }));
    expect(first).toBe(41);
    expect(bic.data[0]).toBe(first);
    expect(() => loadImg(join(dir, 'ramp.png'), { interpolation: 'lanczos' as 'nearest' })).toThrow(/interpolation must be one of nearest, bilinear, bicubic; got "lanczos"/);
  });

  it('the public namespaces hold the utilities', async () => {
    const kiln = await import('../../src/index.js');
    expect(typeof kiln.preprocessing.image.ImageDataGenerator).toBe('function');
    expect(typeof kiln.preprocessing.sequence.padSequences).toBe('function');
    expect(typeof kiln.preprocessing.text.Tokenizer).toBe('function');
    expect(Object.keys(kiln.datasets).sort()).toEqual(['boston_housing', 'cifar10', 'cifar100', 'fashion_mnist', 'imdb', 'mnist', 'reuters']);
    expect(typeof kiln.utils.getFile).toBe('function');
    expect(typeof kiln.utils.Sequence).toBe('function');
    expect(typeof kiln.utils.plotHistory).toBe('function');
    expect(typeof kiln.callbacks.TensorBoard).toBe('function');
    expect(typeof kiln.callbacks.RemoteMonitor).toBe('function');
    expect(typeof kiln.wrappers.GridSearchCV).toBe('function');
  });

  it('JPEG round-trips within lossy tolerance; other types and corrupt files name the file', () => {
    const dir = tmp();
    const flat = tensor(Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => [200, 100, 50])));
    saveImg(join(dir, 'f.jpg'), flat, { scale: false });
    const back = imgToArray(loadImg(join(dir, 'f.jpg')));
    expect(back.shape).toEqual([8, 8, 3]);
    expect(Array.from(back.data)).toBeAllClose(Array.from(flat.data), { atol: 4 });
    writeFileSync(join(dir, 'x.png'), Buffer.from('GIF89a....'));
    expect(() => loadImg(join(dir, 'x.png'))).toThrow(`Cannot load image ${join(dir, 'x.png')}: it is a GIF file; supported types are PNG and JPEG`);
    writeFileSync(join(dir, 'bad.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(20)]));
    expect(() => loadImg(join(dir, 'bad.png'))).toThrow(/Cannot load image .*bad\.png: corrupt PNG data/);
    expect(() => arrayToImg(tensor([[[1, 2]]]))).toThrow(/unsupported channel number: 2/);
    expect(() => arrayToImg(tensor([[1, 2]]))).toThrow(/rank 3/);
    expect(() => loadImg(join(dir, 'missing.png'))).toThrow(/Cannot load image .*missing\.png: ENOENT/);
  });
});

describe('ImageDataGenerator transforms', () => {
  const gen = (args: ConstructorParameters<typeof ImageDataGenerator>[0] = {}): ImageDataGenerator => new ImageDataGenerator(args);
  const grid = rowsOf(GRID);

  it('flips reverse columns or rows; a 90-degree rotation of a square image is np.rot90(x, -1)', () => {
    expect(rowsOf(gen().applyTransform(GRID, { flipHorizontal: true }))).toEqual(grid.map((r) => [...r].reverse()));
    expect(rowsOf(gen().applyTransform(GRID, { flipVertical: true }))).toEqual([...grid].reverse());
    // out[r][c] = in[h - 1 - c][r]: a clockwise quarter turn.
    const rot = rowsOf(gen().applyTransform(GRID, { theta: 90 }));
    rot.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(grid[3 - c][r], 4)));
    const half = rowsOf(gen().applyTransform(GRID, { theta: 180 }));
    half.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(grid[3 - r][3 - c], 4)));
  });

  it('channels_first: the same geometry on [c, h, w] images, statistics per channel', () => {
    const two = new Tensor(Float32Array.from([...GRID.data, ...GRID.data.map((v) => 100 + v)]), [2, 4, 4]);
    const g = gen({ dataFormat: 'channels_first' });
    const flipped = g.applyTransform(two, { flipHorizontal: true }).toArray() as number[][][];
    expect(flipped[0]).toEqual(grid.map((r) => [...r].reverse()));
    expect(flipped[1]).toEqual(grid.map((r) => r.map((v) => 100 + v).reverse()));
    const rot = g.applyTransform(two, { theta: 90 }).toArray() as number[][][];
    rot[1].forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(100 + grid[3 - c][r], 4)));
    const f = gen({ dataFormat: 'channels_first', featurewiseCenter: true });
    f.fit(new Tensor(two.data, [1, 2, 4, 4]));
    expect(Array.from(f.mean!)).toEqual([7.5, 107.5]);
  });

  it('shifts fill by mode: constant, nearest, reflect (abcd|dcba), wrap (abcd|abcd)', () => {
    const row = (m: 'constant' | 'nearest' | 'reflect' | 'wrap'): number[] => rowsOf(gen({ fillMode: m, cval: 9 }).applyTransform(GRID, { ty: 2 }))[0];
    expect(row('constant')).toEqual([2, 3, 9, 9]);
    expect(row('nearest')).toEqual([2, 3, 3, 3]);
    expect(row('reflect')).toEqual([2, 3, 3, 2]);
    expect(row('wrap')).toEqual([2, 3, 0, 1]);
    expect(rowsOf(gen().applyTransform(GRID, { tx: 1 }))).toEqual([grid[1], grid[2], grid[3], grid[3]]);
    // Zooming in by 2 about the centre (1.5, 1.5) samples in[0.5 r + 0.75]: bilinear between neighbours.
    expect(rowsOf(gen().applyTransform(GRID, { zx: 0.5, zy: 0.5 }))[0]).toBeAllClose([3.75, 4.25, 4.75, 5.25], { atol: 1e-5 });
  });

  it('channel shift clips to the image range; brightness goes through uint8 and PIL\'s enhancer', () => {
    expect(Array.from(gen().applyTransform(GRID, { channelShiftIntensity: 5 }).data)).toEqual(Array.from({ length: 16 }, (_, i) => Math.min(15, i + 5)));
    const img = tensor([[[0], [100], [255]]]);
    expect(Array.from(gen().applyTransform(img, { brightness: 0.5 }).data)).toEqual([0, 50, 127]);
    expect(Array.from(gen().applyTransform(img, { brightness: 2 }).data)).toEqual([0, 200, 255]);
  });

  it('random parameters follow numpy\'s draws in keras-preprocessing\'s order', () => {
    const g = gen({ rotationRange: 90, widthShiftRange: 0.1, horizontalFlip: true });
    // np.random.seed(42): uniform(-90, 90), uniform(-0.1, 0.1) * 8, random() < 0.5 twice.
    const p = g.getRandomTransform([8, 8, 1], 42);
    expect(p.theta).toBe(-22.58277860747475);
    expect(p.ty).toBe(0.7211428902558659);
    expect([p.tx, p.flipHorizontal, p.flipVertical, p.channelShiftIntensity, p.brightness]).toEqual([0, false, false, null, null]);
    const z = gen({ zoomRange: 0.5 }).getRandomTransform([8, 8, 1], 3);
    expect([z.zx, z.zy]).toEqual([1.0507979025745755, 1.2081478226181048]);
    const s = gen({ heightShiftRange: [2, 5] }).getRandomTransform([8, 8, 1], 1);
    expect([2, 5, -2, -5]).toContain(s.tx);
    expect(g.randomTransform(GRID, 7).data).toEqual(g.randomTransform(GRID, 7).data);
    expect(() => gen({ zoomRange: [1, 2, 3] as unknown as [number, number] })).toThrow(/zoomRange should be a number or a pair/);
    expect(() => gen({ fillMode: 'mirror' as 'wrap' })).toThrow(/fillMode must be one of constant, nearest, reflect, wrap; got "mirror"/);
    expect(() => gen({ validationSplit: 1 })).toThrow(/validationSplit must be between 0 and 1/);
    // Keras's snake_case spellings are read too; a misspelt option is refused naming the valid ones.
    expect(gen({ rotation_range: 90, width_shift_range: 0.1, horizontal_flip: true } as never).getRandomTransform([8, 8, 1], 42)).toEqual(p);
    expect(() => gen({ rotationRang: 5 } as never)).toThrow(/ImageDataGenerator: unknown option 'rotationRang'\. Valid options: featurewiseCenter/);
  });
});

describe('ImageDataGenerator standardization', () => {
  const data = tensor(Array.from({ length: 6 }, (_, n) => Array.from({ length: 2 }, (_, r) => Array.from({ length: 2 }, (_, c) => [n + r, 10 * n - c])))); // [6, 2, 2, 2]

  it('rescale, samplewise centring and std normalization', () => {
    const x = tensor([[[2], [4]], [[6], [8]]]);
    expect(Array.from(new ImageDataGenerator({ rescale: 0.5 }).standardize(x).data)).toEqual([1, 2, 3, 4]);
    const s = new ImageDataGenerator({ samplewiseCenter: true, samplewiseStdNormalization: true }).standardize(x);
    const std = Math.sqrt(5);
    expect(Array.from(s.data)).toBeAllClose([-3 / (std + 1e-7), -1 / (std + 1e-7), 1 / (std + 1e-7), 3 / (std + 1e-7)], { atol: 1e-6 });
  });

  it('fit computes per-channel mean and std; standardize uses them', () => {
    const g = new ImageDataGenerator({ featurewiseCenter: true, featurewiseStdNormalization: true });
    g.fit(data);
    const values = (ch: number): number[] => Array.from(data.data).filter((_, i) => i % 2 === ch);
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const sd = (v: number[]): number => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
    expect(Array.from(g.mean!)).toBeAllClose([mean(values(0)), mean(values(1))], { atol: 1e-5 });
    expect(Array.from(g.std!)).toBeAllClose([sd(values(0)), sd(values(1))], { atol: 1e-5 });
    const out = g.standardize(data);
    const c0 = Array.from(out.data).filter((_, i) => i % 2 === 0);
    expect(mean(c0)).toBeCloseTo(0, 5);
    expect(sd(c0)).toBeCloseTo(1, 4);
  });

  it('ZCA whitening leaves the fitted data with an identity covariance', () => {
    const r = new NumpyRandomState(5);
    const n = 200;
    const base = Array.from({ length: n }, () => [r.random(), r.random(), r.random(), r.random()]);
    // Correlated features: [a, a + b, b - c, d].
    const x = new Tensor(Float32Array.from(base.flatMap(([a, b, c, d]) => [a, a + b, b - c, d])), [n, 2, 2, 1]);
    const g = new ImageDataGenerator({ zcaWhitening: true, zcaEpsilon: 1e-9 });
    g.fit(x);
    expect(g.args.featurewiseCenter).toBe(true);
    const w = g.standardize(x).data;
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let cov = 0;
        for (let s = 0; s < n; s++) cov += w[s * 4 + i] * w[s * 4 + j];
        expect(cov / n).toBeCloseTo(i === j ? 1 : 0, 3);
      }
    }
    expect(() => g.fit(tensor([[1, 2]]))).toThrow(/fit: input should have rank 4, got an array of shape \[1, 2\]/);
  });
});

describe('flow and flowFromDirectory', () => {
  const x = new Tensor(Float32Array.from({ length: 10 * 4 * 4 * 1 }, (_, i) => i % 160), [10, 4, 4, 1]);
  const y = tensor(Array.from({ length: 10 }, (_, i) => [i]));

  it('flow batches in numpy\'s permutation for the seed, with labels and weights aligned, and subsets', async () => {
    const it = new ImageDataGenerator().flow(x, y, { batchSize: 4, seed: 11, workers: 0, sampleWeight: tensor(Array.from({ length: 10 }, (_, i) => i / 10)) });
    expect(it.length).toBe(3);
    const perm = new NumpyRandomState(11).permutation(10);
    const [bx, by, bw] = (await it.getItem(0)) as [Tensor, Tensor, Tensor];
    expect(bx.shape).toEqual([4, 4, 4, 1]);
    expect(Array.from(by.data)).toEqual(perm.slice(0, 4));
    expect(Array.from(bw.data)).toBeAllClose(perm.slice(0, 4).map((i) => i / 10), { atol: 1e-7 });
    expect(bx.data[0]).toBe(x.data[perm[0] * 16]);
    const last = (await it.getItem(2)) as [Tensor, Tensor, Tensor];
    expect(last[0].shape[0]).toBe(2);
    const g = new ImageDataGenerator({ validationSplit: 0.3 });
    expect(g.flow(x, y, { subset: 'validation', workers: 0 }).n).toBe(3);
    const train = g.flow(x, y, { subset: 'training', shuffle: false, batchSize: 10, workers: 0 });
    expect(Array.from(((await train.getItem(0)) as [Tensor, Tensor])[1].data)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(() => g.flow(tensor([[1, 2]]))).toThrow(/should have rank 4/);
    expect(() => g.flow(x, tensor([[1]]))).toThrow(/x \(images\) and y \(labels\) should have the same length/);
  });

  it('worker threads give the same batches as the calling thread, and save_to_dir writes the images', async () => {
    const args = { rotationRange: 30, widthShiftRange: 0.2, horizontalFlip: true, zoomRange: 0.2, rescale: 1 / 255 };
    const dir = tmp();
    const inThread = new ImageDataGenerator(args).flow(x, y, { batchSize: 5, seed: 3, workers: 0 });
    const inWorkers = new ImageDataGenerator(args).flow(x, y, { batchSize: 5, seed: 3, workers: 2, saveToDir: dir, savePrefix: 'aug' });
    for (let b = 0; b < 2; b++) {
      const [a] = (await inThread.getItem(b)) as [Tensor, Tensor];
      const [w] = (await inWorkers.getItem(b)) as [Tensor, Tensor];
      expect(Array.from(w.data)).toEqual(Array.from(a.data));
      expect(Math.max(...a.data)).toBeLessThanOrEqual(159 / 255 + 1e-6);
    }
    const saved = readdirSync(dir);
    expect(saved.length).toBe(10);
    saved.forEach((f) => expect(f).toMatch(/^aug_\d+_\d+\.png$/));
  });

  it('flowFromDirectory: classes from sorted subfolders, files in order, every class mode, resize and grayscale', async () => {
    const root = tmp();
    const colours: Record<string, number[]> = { cats: [255, 0, 0], dogs: [0, 255, 0], zebra: [0, 0, 255] };
    for (const [name, rgb] of Object.entries(colours)) {
      mkdirSync(join(root, name, 'nested'), { recursive: true });
      const img = tensor(Array.from({ length: 6 }, () => Array.from({ length: 6 }, () => rgb)));
      saveImg(join(root, name, 'b.png'), img, { scale: false });
      saveImg(join(root, name, 'nested', 'a.jpg'), img, { scale: false });
      writeFileSync(join(root, name, 'notes.txt'), 'not an image');
    }
    const g = new ImageDataGenerator();
    const it = g.flowFromDirectory(root, { targetSize: [3, 3], batchSize: 6, shuffle: false, workers: 2 });
    expect(it.classIndices).toEqual({ cats: 0, dogs: 1, zebra: 2 });
    expect(it.filenames).toEqual(['cats/b.png', 'cats/nested/a.jpg', 'dogs/b.png', 'dogs/nested/a.jpg', 'zebra/b.png', 'zebra/nested/a.jpg']);
    const [bx, by] = (await it.getItem(0)) as [Tensor, Tensor];
    expect(bx.shape).toEqual([6, 3, 3, 3]);
    expect(Array.from(bx.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(bx.data.subarray(27 * 2, 27 * 2 + 3))).toEqual([0, 255, 0]);
    expect(by.toArray()).toEqual([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]);
    const sparse = g.flowFromDirectory(root, { targetSize: [3, 3], batchSize: 6, shuffle: false, classMode: 'sparse', colorMode: 'grayscale', workers: 0 });
    const [gx, gy] = (await sparse.getItem(0)) as [Tensor, Tensor];
    expect(gx.shape).toEqual([6, 3, 3, 1]);
    expect(gx.data[0]).toBe(76);
    expect(Array.from(gy.data)).toEqual([0, 0, 1, 1, 2, 2]);
    const only = g.flowFromDirectory(root, { targetSize: [3, 3], classes: ['dogs', 'zebra'], classMode: 'binary', shuffle: false, workers: 0 });
    expect(Array.from(((await only.getItem(0)) as [Tensor, Tensor])[1].data)).toEqual([0, 0, 1, 1]);
    const input = (await g.flowFromDirectory(root, { targetSize: [3, 3], classMode: 'input', workers: 0 }).getItem(0)) as [Tensor, Tensor];
    expect(input[1].data).toEqual(input[0].data);
    expect((await g.flowFromDirectory(root, { targetSize: [3, 3], classMode: null, workers: 0 }).getItem(0)) instanceof Tensor).toBe(true);
    const split = new ImageDataGenerator({ validationSplit: 0.5 });
    expect(split.flowFromDirectory(root, { subset: 'validation', workers: 0 }).filenames).toEqual(['cats/b.png', 'dogs/b.png', 'zebra/b.png']);
  });

  it('bad directories and images are named', async () => {
    const flat = tmp();
    saveImg(join(flat, 'a.png'), GRID);
    expect(() => new ImageDataGenerator().flowFromDirectory(flat)).toThrow(`flowFromDirectory: ${flat} has no class subfolders (it holds 1 image files directly); put each class's images in a subfolder named after the class`);
    expect(() => new ImageDataGenerator().flowFromDirectory(join(flat, 'nope'))).toThrow(/nope is not a directory/);
    const bad = tmp();
    mkdirSync(join(bad, 'k'));
    writeFileSync(join(bad, 'k', 'x.jpg'), Buffer.from('BM not really'));
    const it = new ImageDataGenerator().flowFromDirectory(bad, { workers: 1 });
    await expect(it.getItem(0)).rejects.toThrow(`Cannot load image ${join(bad, 'k', 'x.jpg')}: it is a BMP file; supported types are PNG and JPEG`);
  });
});
