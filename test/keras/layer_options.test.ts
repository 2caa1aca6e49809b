/**
 * Layer options as a Keras user spells them (src/layers/layer_options.ts):
 * snake_case keys are read, a key given twice or unknown to a built-in layer
 * is an error naming the valid ones, and every key a layer's TypeScript
 * options type offers is one the check accepts (so the check never refuses
 * what the typings allow).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { Sequential, layers, modelFromJSON, tensor } from '../../src/index.js';
import { layerOptionKeys } from '../../src/layers/layer_options.js';
import type { Layer } from '../../src/layers/base.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/** Classes that no conformance model holds. */
const UNBUILT = (): Record<string, Layer> => ({
  Lambda: new layers.Lambda((x) => x, { functionName: 'identity' }),
  Masking: new layers.Masking({ maskValue: 0 }),
  RNN: new layers.RNN(new layers.LSTMCell(2)),
  CuDNNGRU: new layers.CuDNNGRU(2),
  CuDNNLSTM: new layers.CuDNNLSTM(2),
  ConvLSTM2D: new layers.ConvLSTM2D(2, 3),
  ActivityRegularization: new layers.ActivityRegularization({ l1: 0.1 }),
  AlphaDropout: new layers.AlphaDropout(0.1),
  Softmax: new layers.Softmax(),
  SpatialDropout1D: new layers.SpatialDropout1D(0.1),
  SpatialDropout2D: new layers.SpatialDropout2D(0.1),
  SpatialDropout3D: new layers.SpatialDropout3D(0.1),
  Conv3DTranspose: new layers.Conv3DTranspose(2, [1, 1, 1]),
  SeparableConv1D: new layers.SeparableConv1D(2, [1]),
  DepthwiseConv2D: new layers.DepthwiseConv2D([1, 1]),
  LocallyConnected1D: new layers.LocallyConnected1D(2, [1]),
  LocallyConnected2D: new layers.LocallyConnected2D(2, [1, 1]),
});

describe('layer options', () => {
  it("reads Keras's snake_case keys as their camelCase spelling", async () => {
    const model = new Sequential([new layers.Dense(2, { kernel_initializer: 'ones', use_bias: false, input_shape: [3] } as never)]);
    const dense = model.layers[0] as layers.Dense;
    expect(dense.getConfig().useBias).toBe(false);
    expect(model.inputShapes[0]).toEqual([null, 3]);
    const out = await model.predict(tensor([[1, 2, 3]]));
    expect(Array.from(out.data)).toEqual([6, 6]);
    const embedding = new layers.Embedding(10, 4, { input_length: 5, mask_zero: true } as never);
    expect(embedding.getConfig()).toMatchObject({ inputLength: 5, maskZero: true });
    model.dispose();
  });

  it('refuses an unknown key of a built-in layer, naming the valid ones', () => {
    expect(() => new Sequential([new layers.Dense(2, { inputShape: [3], kernelInitialiser: 'ones' } as never)])).toThrow(/Dense dense_\d+: unknown option 'kernelInitialiser'\. Valid options: .*kernelInitializer/);
    expect(() => new Sequential([new layers.Conv2D(2, [3, 3], { inputShape: [8, 8, 1], padding: 'same', stride: 2 } as never)])).toThrow(/unknown option 'stride'.*strides/);
  });

  it("takes Keras's first positional argument of pools, paddings, croppings and upsamplings", () => {
    expect(new layers.MaxPooling2D([3, 3]).getConfig()).toMatchObject({ poolSize: [3, 3], strides: [3, 3] });
    expect(new layers.AveragePooling1D(4, { strides: 2 }).getConfig()).toMatchObject({ poolSize: [4], strides: [2] });
    expect(new layers.MaxPooling2D({ poolSize: [2, 1] }).getConfig()).toMatchObject({ poolSize: [2, 1] });
    expect(new layers.ZeroPadding2D(1, { dataFormat: 'channels_first' }).getConfig()).toMatchObject({ padding: [[1, 1], [1, 1]], dataFormat: 'channels_first' });
    expect(new layers.Cropping1D([2, 0]).getConfig()).toMatchObject({ cropping: [2, 0] });
    expect(new layers.UpSampling2D([2, 3]).getConfig()).toMatchObject({ size: [2, 3] });
    expect(() => new layers.MaxPooling2D([2, 2], { poolSize: [3, 3] })).toThrow('MaxPooling2D: poolSize is given twice, as the first argument and in the options');
    expect(() => new layers.Flatten([2] as never)).toThrow(/Flatten: options must be an object of named options, got the list \[2\]/);
  });

  it('refuses one option in both spellings', () => {
    expect(() => new layers.Dense(2, { useBias: false, use_bias: true } as never)).toThrow("Dense: option 'useBias' is given twice, as 'useBias' and as 'use_bias'");
  });

  it('checks an unnamed Lambda against its own option list', () => {
    expect(() => new Sequential([new layers.Lambda((x) => x, { inputShape: [2], outputShape: [2] })])).not.toThrow();
    expect(() => new Sequential([new layers.Lambda((x) => x, { inputShape: [2], output_shape: [2], argumentz: {} } as never)])).toThrow(/unknown option 'argumentz'/);
  });

  it('leaves the options of a user subclass to the user', async () => {
    class Scaled extends layers.Dense {
      readonly factor: number;
      constructor(args: { factor: number; inputShape: number[] }) {
        super(1, args as never);
        this.factor = args.factor;
      }
    }
    const model = new Sequential([new Scaled({ factor: 3, inputShape: [2] })]);
    expect((model.layers[0] as Scaled).factor).toBe(3);
    model.dispose();
  });

  it('accepts every key the options types offer, for each class the conformance models hold', () => {
    const records = readFileSync(join(root, 'test', 'conformance', 'data', 'keras2-layers.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
    const instances = new Map<string, Layer>(Object.entries(UNBUILT()));
    for (const line of records) {
      const model = modelFromJSON(JSON.stringify((JSON.parse(line) as { model: unknown }).model));
      for (const layer of model.layers) if (!instances.has(layer.constructor.name)) instances.set(layer.constructor.name, layer);
    }
    const program = ts.createProgram([join(root, 'src', 'layers', 'index.ts')], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true });
    const checker = program.getTypeChecker();
    const entry = checker.getSymbolAtLocation(program.getSourceFile(join(root, 'src', 'layers', 'index.ts'))!)!;
    const refused: string[] = [];
    const unchecked: string[] = [];
    for (const symbol of checker.getExportsOfModule(entry)) {
      const name = symbol.getName();
      const value = (layers as Record<string, unknown>)[name];
      if (typeof value !== 'function' || !(value.prototype instanceof layers.Layer)) continue;
      const layer = instances.get(name);
      if (!layer) {
        unchecked.push(name);
        continue;
      }
      expect(layer.constructor).toBe(value);
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const valid = layerOptionKeys(value, layer.getConfig());
      for (const signature of checker.getTypeOfSymbolAtLocation(target, target.valueDeclaration!).getConstructSignatures()) {
        const options = signature.parameters.at(-1);
        if (!options) continue;
        const type = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(options, options.valueDeclaration!));
        if (type.flags & ts.TypeFlags.StringLike || !(type.flags & ts.TypeFlags.Object || type.isIntersection())) continue;
        for (const key of type.getProperties().map((p) => p.getName())) if (!valid.has(key)) refused.push(`${name}.${key}`);
      }
    }
    expect(refused).toEqual([]);
    expect(unchecked).toEqual([]);
  });
});
