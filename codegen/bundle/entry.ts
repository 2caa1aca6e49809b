/**
 * The bundle's ES module entry (index.js) and its declarations (index.d.ts).
 * The declarations are built with the TypeScript compiler API from the
 * manifest, so an app's editor knows the model's input and output names:
 *
 *   import { load } from './bundle/index.js';
 *   const m = await load();
 *   const { dense_2 } = await m.predict({ dense_1_input: pixels });
 */
import ts from 'typescript';
import type { Manifest, TensorSpec } from '../../runtime/bundle/manifest.js';

const f = ts.factory;

/** The package the entry imports the runtime from. */
export const RUNTIME_SPECIFIER = 'kiln/runtime';

export function entryModule(): string {
  return [
    '// Written by `kiln compile`: loads this folder with the Kiln runtime.',
    `import { load as loadBundle } from '${RUNTIME_SPECIFIER}';`,
    '',
    "export const location = new URL('./', import.meta.url);",
    '',
    'export function load(options) {',
    '  return loadBundle(location, options);',
    '}',
    '',
  ].join('\n');
}

const property = (name: string, type: ts.TypeNode, readonly = true): ts.PropertySignature =>
  f.createPropertySignature(readonly ? [f.createModifier(ts.SyntaxKind.ReadonlyKeyword)] : undefined, /^[A-Za-z_$][\w$]*$/.test(name) ? name : f.createStringLiteral(name), undefined, type);

const ref = (name: string, args?: ts.TypeNode[]): ts.TypeNode => f.createTypeReferenceNode(name, args);
const readonlyArray = (t: ts.TypeNode): ts.TypeNode => f.createTypeOperatorNode(ts.SyntaxKind.ReadonlyKeyword, f.createArrayTypeNode(t));

function shapeDoc(t: TensorSpec): string {
  return `${t.dtype} [${t.shape.map((d) => d ?? 'batch').join(', ')}]`;
}

function withDoc<T extends ts.Node>(node: T, text: string): T {
  return ts.addSyntheticLeadingComment(node, ts.SyntaxKind.MultiLineCommentTrivia, `* ${text} `, true);
}

function iface(name: string, doc: string, members: ts.TypeElement[]): ts.InterfaceDeclaration {
  return withDoc(f.createInterfaceDeclaration([f.createModifier(ts.SyntaxKind.ExportKeyword)], name, undefined, undefined, members), doc);
}

export function entryDeclarations(manifest: Manifest): string {
  const inputType = f.createUnionTypeNode([ref('Float32Array'), readonlyArray(f.createKeywordTypeNode(ts.SyntaxKind.NumberKeyword)), f.createTypeLiteralNode([property('data', ref('ArrayLike', [f.createKeywordTypeNode(ts.SyntaxKind.NumberKeyword)])), property('shape', readonlyArray(f.createKeywordTypeNode(ts.SyntaxKind.NumberKeyword)))])]);
  const outputType = f.createTypeLiteralNode([property('data', ref('Float32Array')), property('shape', readonlyArray(f.createKeywordTypeNode(ts.SyntaxKind.NumberKeyword)))]);
  const promiseOf = (t: ts.TypeNode): ts.TypeNode => ref('Promise', [t]);
  const param = (name: string, type: ts.TypeNode): ts.ParameterDeclaration => f.createParameterDeclaration(undefined, undefined, name, undefined, type);
  const method = (name: string, params: ts.ParameterDeclaration[], ret: ts.TypeNode): ts.MethodSignature => f.createMethodSignature(undefined, name, undefined, undefined, params, ret);
  const number = f.createKeywordTypeNode(ts.SyntaxKind.NumberKeyword);
  const train = manifest.train;
  const statements: ts.Statement[] = [
    f.createImportDeclaration(undefined, f.createImportClause(true, undefined, f.createNamedImports([f.createImportSpecifier(false, undefined, f.createIdentifier('LoadOptions'))])), f.createStringLiteral(RUNTIME_SPECIFIER)),
    iface('Inputs', `Inputs of model '${manifest.name}', by name.`, manifest.inputs.map((t) => withDoc(property(t.name, inputType), shapeDoc(t)))),
    iface('Outputs', `Outputs of model '${manifest.name}', by name.`, manifest.outputs.map((t) => withDoc(property(t.name, outputType), shapeDoc(t)))),
    ...(train ? [
      iface('Targets', `Training targets of model '${manifest.name}', by output name.`, manifest.outputs.map((t) => withDoc(property(t.name, inputType), shapeDoc(t)))),
      iface('TrainLogs', `What trainOnBatch resolves to: the loss and metrics by Keras's names.`, train.metricsNames.map((n) => property(n, number))),
    ] : []),
    iface('Model', `Model '${manifest.name}' loaded from this bundle.`, [
      method('predict', [param('inputs', ref('Inputs'))], promiseOf(ref('Outputs'))),
      ...(train ? [withDoc(method('trainOnBatch', [param('inputs', ref('Inputs')), param('targets', ref('Targets'))], promiseOf(ref('TrainLogs'))), `One train step on at most ${train.batch} samples.`)] : []),
      method('getWeights', [], promiseOf(ref('Record', [f.createKeywordTypeNode(ts.SyntaxKind.StringKeyword), outputType]))),
      property('backend', f.createKeywordTypeNode(ts.SyntaxKind.StringKeyword)),
      method('dispose', [], f.createKeywordTypeNode(ts.SyntaxKind.VoidKeyword)),
    ]),
    f.createVariableStatement([f.createModifier(ts.SyntaxKind.ExportKeyword), f.createModifier(ts.SyntaxKind.DeclareKeyword)], f.createVariableDeclarationList([f.createVariableDeclaration('location', undefined, ref('URL'))], ts.NodeFlags.Const)),
    withDoc(f.createFunctionDeclaration([f.createModifier(ts.SyntaxKind.ExportKeyword), f.createModifier(ts.SyntaxKind.DeclareKeyword)], undefined, 'load', undefined, [f.createParameterDeclaration(undefined, undefined, 'options', f.createToken(ts.SyntaxKind.QuestionToken), ref('LoadOptions'))], promiseOf(ref('Model')), undefined), 'Loads this bundle (node-cpu or wasm in Node, webgpu or wasm in a page).'),
  ];
  const file = ts.createSourceFile('index.d.ts', '', ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed });
  return `// Written by \`kiln compile\`.\n${printer.printList(ts.ListFormat.MultiLine, f.createNodeArray(statements), file)}`;
}
