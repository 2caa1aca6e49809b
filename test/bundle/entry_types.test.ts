/** The bundle's index.d.ts (TypeScript compiler API) names the model's inputs, outputs and train logs: an app type-checks against it, and wrong names fail. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { Input, Model, layers } from '../../src/index.js';

const ROOT = resolve(import.meta.dirname, '../..');

const APP = `
import { load } from './bundle/index.js';
const m = await load({ target: 'wasm' });
const out = await m.predict({ features: new Float32Array(6) });
const p: Float32Array = out.scores.data;
const logs = await m.trainOnBatch({ features: [1, 2, 3, 4, 5, 6] }, { scores: [0, 1, 0] });
const loss: number = logs.loss + logs.mae;
// @ts-expect-error the model has no input named 'input_1'
await m.predict({ input_1: new Float32Array(6) });
// @ts-expect-error the model has no output named 'dense_9'
void out.dense_9;
// @ts-expect-error the train logs have no 'accuracy' (the bundle was compiled with metrics ['mae'])
void logs.accuracy;
export { p, loss };
`;

describe('bundle entry declarations', () => {
  it('type-check an app that uses them, and reject wrong names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-entry-'));
    const features = Input({ shape: [6], name: 'features' });
    const model = new Model({ inputs: features, outputs: new layers.Dense(3, { name: 'scores' }).apply(features), name: 'typed' });
    await writeBundle(model, { out: join(dir, 'bundle'), targets: ['wasm'], batchSizes: [2], train: { batch: 2, compile: { loss: 'mse', optimizer: 'sgd', metrics: ['mae'] } } });
    writeFileSync(join(dir, 'app.ts'), APP);
    const program = ts.createProgram([join(dir, 'app.ts')], {
      module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true,
      types: [], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], paths: { 'kiln/runtime': [join(ROOT, 'runtime/bundle/index.ts')] },
    });
    // The app and the bundle's declarations; the runtime's own sources are checked by the project's tsc.
    const ours = program.getSourceFiles().filter((f) => f.fileName.startsWith(dir));
    expect(ours.map((f) => f.fileName.slice(dir.length)).sort()).toEqual(['/app.ts', '/bundle/index.d.ts']);
    const messages = ours.flatMap((f) => ts.getPreEmitDiagnostics(program, f)).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(messages).toEqual([]);
  });
});
