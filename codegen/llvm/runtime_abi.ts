/**
 * What the runtime needs to know about emitted code (the entry point's name,
 * the OpenMP settings it wants before libgomp loads) without loading the code
 * generator: llvm-bindings costs start-up time, and a process whose programs
 * are all in the compile cache never emits code.
 */

export const ENTRY = 'kiln_run';

/**
 * Iterations libgomp's idle threads spin before they sleep (GOMP_SPINCOUNT;
 * libgomp's own default, 300,000, spins for up to a millisecond). A spinning
 * thread loses the scheduler's wake-up preference: on a core that another
 * process keeps busy it only gets time slices, and every parallel region's
 * closing barrier waits for it (issue 16: mnist_mlp fit at batch 128 fell
 * from 14,946 to 4,530 samples/s with one of two cores busy). A short spin
 * still bridges the kernels of one step, which follow each other within
 * microseconds; docs/benchmarks.md has the measurements.
 */
export const OPENMP_SPIN_COUNT = 1000;

/**
 * Sets GOMP_SPINCOUNT for libgomp, which reads its environment once, when it
 * is loaded: call before the first native program or libgomp itself loads.
 * A wait policy or spin count the user set (OMP_WAIT_POLICY, GOMP_SPINCOUNT) wins.
 */
export function preferShortSpins(env: NodeJS.ProcessEnv = process.env): void {
  if (env.GOMP_SPINCOUNT === undefined && env.OMP_WAIT_POLICY === undefined) env.GOMP_SPINCOUNT = String(OPENMP_SPIN_COUNT);
}
