/**
 * Loads llvm-bindings' native addon with RTLD_DEEPBIND before anything
 * requires it. The addon carries a static LLVM 14 and exports its symbols;
 * Mesa's llvmpipe (the WebGPU backend without a GPU) brings a shared LLVM 15.
 * Without deep binding, whichever loads second resolves LLVM's globals to the
 * other copy and the process aborts ("Option 'use-dbg-addr' registered more
 * than once"); with it, each LLVM binds to its own symbols, so the CPU and
 * WebGPU backends share a process in either order. `require('llvm-bindings')`
 * later gets this same loaded library. Imported through llvm.ts only.
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';

const require = createRequire(import.meta.url);
const flags = constants.dlopen;
// Only before the first require: initialising the addon twice would repoint its classes (see llvm.ts).
const alreadyLoaded = require.resolve('llvm-bindings') in require.cache;
if (process.platform === 'linux' && flags.RTLD_DEEPBIND !== undefined && !alreadyLoaded) {
  process.dlopen({ exports: {} }, require.resolve('llvm-bindings/build/Release/llvm-bindings.node'), flags.RTLD_NOW | flags.RTLD_DEEPBIND);
}
