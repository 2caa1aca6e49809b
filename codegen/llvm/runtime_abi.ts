/**
 * What the runtime needs to know about emitted code (the entry point's name)
 * without loading the code generator: llvm-bindings costs start-up time, and a process whose programs
 * are all in the compile cache never emits code.
 */

export const ENTRY = 'kiln_run';
