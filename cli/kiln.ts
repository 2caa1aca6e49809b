#!/usr/bin/env node
/**
 * The `kiln` command: compile a model to a deployable bundle, print its
 * summary, plot it, predict with a bundle or a model file, and time each
 * fused kernel. `kiln <command> --help` describes each; errors are printed
 * in plain words and exit with code 1.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { BUNDLE_TARGETS } from '../runtime/bundle/manifest.js';
import { CPU_LEVELS } from '../codegen/bundle/native.js';
import { benchCommand, compileCommand, plotCommand, predictCommand, summaryCommand } from './commands.js';

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const STDIO: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

const MODEL_HELP = 'a model file (Keras .h5 or .keras, TensorFlow.js model.json), a Keras/Kiln JSON config (.json, with --weights), or a script exporting a model (.js, .mjs)';

function program(io: Io, failed: (cmd: string, e: unknown) => void): Command {
  const print = (line: string): void => io.out(`${line}\n`);
  const cli = new Command('kiln')
    .description('Kiln: Keras 2 models compiled ahead of time into fused kernels')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();
  const action = <A extends unknown[]>(name: string, f: (...args: A) => Promise<void>) => async (...args: A): Promise<void> => {
    try {
      await f(...args);
    } catch (e) {
      failed(name, e);
    }
  };
  const weights = new Option('--weights <file>', "weights for a JSON model, in Keras's HDF5 layout (save_weights)");
  cli.command('compile')
    .description('compile MODEL into a deployable bundle: native objects per CPU level, wasm, WGSL, weights, manifest, entry module and .d.ts')
    .argument('<model>', MODEL_HELP)
    .requiredOption('-o, --out <dir>', 'folder to write the bundle to')
    .addOption(weights)
    .option('--targets <list>', `comma-separated targets: ${BUNDLE_TARGETS.join(', ')}`, BUNDLE_TARGETS.join(','))
    .option('--batch-sizes <list>', 'comma-separated batch sizes to compile programs for', '1,32')
    .option('--cpu-levels <list>', `node-cpu feature levels, best first: ${CPU_LEVELS.map((l) => l.level).join(', ')}`, CPU_LEVELS.map((l) => l.level).join(','))
    .option('--threads <n>', 'the most threads the node-cpu programs use (at run time no more than the machine has)', '8')
    .option('--train', 'include the train step (trainOnBatch in the runtime) for on-device fine-tuning', false)
    .option('--loss <name>', "with --train: the loss, a Keras identifier (e.g. categorical_crossentropy)")
    .option('--optimizer <name>', 'with --train: the optimizer, a Keras identifier (e.g. rmsprop, adam)')
    .option('--metrics <list>', 'with --train: comma-separated metrics (e.g. accuracy)', '')
    .option('--train-batch <n>', 'with --train: the train step\'s batch size', '32')
    .action(action('compile', (model: string, o) => compileCommand(model, o, print)));
  cli.command('summary')
    .description("print MODEL's layers, output shapes and parameter counts (Keras's model.summary())")
    .argument('<model>', MODEL_HELP)
    .addOption(weights)
    .action(action('summary', (model: string, o) => summaryCommand(model, o, print)));
  cli.command('plot')
    .description("draw MODEL's layer graph with Graphviz's dot (Keras's plot_model); the file's extension picks the format (png, svg, pdf, dot)")
    .argument('<model>', MODEL_HELP)
    .addOption(weights)
    .option('--to-file <file>', 'the image to write', 'model.png')
    .option('--show-shapes', "show each layer's input and output shapes", false)
    .option('--no-show-layer-names', 'show class names only')
    .option('--rankdir <dir>', 'TB (vertical) or LR (horizontal)', 'TB')
    .action(action('plot', (model: string, o) => plotCommand(model, o, print)));
  cli.command('predict')
    .description('run a bundle folder (written by kiln compile) or a model file on inputs from .npy or JSON files; prints JSON or writes --out')
    .argument('<bundle-or-model>', `a bundle folder, or ${MODEL_HELP}`)
    .option('-i, --input <name=file...>', 'input files (.npy or .json), NAME=FILE for each input, or one FILE for a single-input model', [])
    .option('-o, --out <file>', 'write the outputs to FILE.json or FILE.npy instead of printing JSON')
    .addOption(weights)
    .addOption(new Option('--backend <target>', 'bundle target to run on (default: the best available)').choices([...BUNDLE_TARGETS]))
    .option('--batch-size <n>', 'batch size for model files', '32')
    .action(action('predict', (target: string, o) => predictCommand(target, o, print)));
  cli.command('bench')
    .description("time each fused kernel of MODEL's compiled predict program on this CPU: its IR summary, time, GFLOP/s or GB/s against the measured peak")
    .argument('<model>', MODEL_HELP)
    .addOption(weights)
    .option('--batch <n>', 'batch size of the program', '32')
    .option('--threads <n>', 'threads (default: KILN_NUM_THREADS or every core)')
    .option('--json', 'print the report as JSON', false)
    .action(action('bench', (model: string, o) => benchCommand(model, o, print)));
  return cli;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = STDIO): Promise<number> {
  let code = 0;
  const cli = program(io, (cmd, e) => {
    io.err(`kiln ${cmd}: ${(e as Error).message ?? String(e)}\n`);
    code = 1;
  });
  try {
    await cli.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  return code;
}

const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === invoked) process.exitCode = await main(process.argv.slice(2));
