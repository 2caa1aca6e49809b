/**
 * The one door to llvm-bindings for the code generator: its addon is loaded
 * with deep binding first (preload.ts), then required. Importing
 * 'llvm-bindings' anywhere else could load the addon before the preload,
 * and a second initialisation of the addon leaves its classes pointing at
 * another instance's constructors.
 */
import './preload.js';
import llvm from 'llvm-bindings';

export default llvm;
