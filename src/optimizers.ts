/**
 * Keras 2 optimizers (keras/optimizers.py, 2.2) as IR: one training step's
 * update of every weight and slot, traced into the train program so it runs
 * fused with the backward pass. Defaults and update rules follow Keras 2;
 * epsilon is K.epsilon() = 1e-7. `clipnorm` clips by the global norm of all
 * gradients, `clipvalue` elementwise, as Keras 2 does.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { type KerasOptions, type OptionSpec, readOptions } from './options.js';
import { describeValue, ownEntry } from './validation.js';

export interface StepContext {
  /** Iterations done before this step (float32 scalar). */
  readonly iterations: Value;
  /** The learning rate (float32 scalar state, so schedulers change it without recompiling). */
  readonly lr: Value;
}

export interface ParamState {
  readonly param: Value;
  readonly grad: Value;
  readonly slots: readonly Value[];
}

export interface StepResult {
  readonly params: readonly Value[];
  readonly slots: readonly (readonly Value[])[];
  readonly globals: readonly Value[];
}

export abstract class Optimizer {
  abstract readonly className: string;
  readonly clipnorm: number;
  readonly clipvalue: number;
  readonly decay: number;

  readonly lr: number;
  /** The options as read (camelCase keys), for the subclass's own settings. */
  protected readonly options: OptimizerConfig;

  /**
   * `lrOrConfig` is Keras's first positional argument (the learning rate) or
   * the options; keys are read by src/options.ts against `spec`.
   */
  constructor(defaultLr: number, lrOrConfig: number | object | undefined, config: object | undefined, spec: OptionSpec<OptimizerConfig>) {
    const where = `optimizers.${new.target.name}`;
    const positional = typeof lrOrConfig === 'number';
    const c = readOptions<OptimizerConfig>(where, positional ? config : lrOrConfig, spec);
    if (positional && c.lr !== undefined) throw new Error(`${where}: the learning rate is given twice, as the first argument (${lrOrConfig}) and as an option (${c.lr})`);
    if (!positional && config !== undefined) throw new Error(`${where}: options go in the first argument, or after the learning rate: new ${new.target.name}(0.01, { ... })`);
    this.options = c;
    this.lr = positional ? lrOrConfig : (c.lr ?? defaultLr);
    this.clipnorm = c.clipnorm ?? 0;
    this.clipvalue = c.clipvalue ?? 0;
    this.decay = c.decay ?? 0;
  }

  /** Slot names per weight (Keras's optimizer weights), each shaped like the weight. */
  abstract readonly slotNames: readonly string[];
  /** Optimizer-wide scalar state and its initial values. */
  readonly globals: readonly { name: string; init: number }[] = [];

  protected abstract updateOne(b: GraphBuilder, s: ParamState, ctx: StepContext & { t: Value; globals: readonly Value[] }): { param: Value; slots: Value[] };

  protected updateGlobals(_b: GraphBuilder, _ctx: StepContext & { t: Value }, globals: readonly Value[]): Value[] {
    return [...globals];
  }

  abstract getConfig(): Record<string, unknown>;

  protected baseConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = { lr: this.lr, decay: this.decay };
    if (this.clipnorm) c.clipnorm = this.clipnorm;
    if (this.clipvalue) c.clipvalue = this.clipvalue;
    return c;
  }

  /** The update of every weight, slot and global for one step. */
  step(b: GraphBuilder, states: readonly ParamState[], ctx: StepContext, globals: readonly Value[]): StepResult {
    const grads = this.clip(b, states.map((s) => s.grad));
    const lr = this.decay > 0 ? b.div(ctx.lr, b.add(b.mul(ctx.iterations, this.decay), 1)) : ctx.lr;
    const t = b.add(ctx.iterations, 1);
    const stepCtx = { ...ctx, lr, t };
    const newGlobals = this.updateGlobals(b, stepCtx, globals);
    const results = states.map((s, i) => this.updateOne(b, { ...s, grad: grads[i] }, { ...stepCtx, globals: newGlobals }));
    return { params: results.map((r) => r.param), slots: results.map((r) => r.slots), globals: newGlobals };
  }

  private clip(b: GraphBuilder, grads: readonly Value[]): Value[] {
    let out = [...grads];
    if (this.clipnorm > 0) {
      const sq = out.map((g) => b.sum(b.mul(g, g)));
      const norm = b.unary('sqrt', sq.reduce((a, c) => b.add(a, c)));
      const scale = b.div(this.clipnorm, b.maximum(norm, this.clipnorm));
      out = out.map((g) => b.mul(g, scale));
    }
    if (this.clipvalue > 0) out = out.map((g) => b.minimum(b.maximum(g, -this.clipvalue), this.clipvalue));
    return out;
  }
}

/** Options of the optimizers (Keras 2's keyword arguments, camelCase); each optimizer takes its own subset. */
export interface OptimizerConfig {
  readonly lr?: number;
  readonly decay?: number;
  readonly clipnorm?: number;
  readonly clipvalue?: number;
  readonly momentum?: number;
  readonly nesterov?: boolean;
  readonly rho?: number;
  readonly epsilon?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly amsgrad?: boolean;
  readonly scheduleDecay?: number;
}

type Keys<K extends keyof OptimizerConfig> = Pick<OptimizerConfig, 'lr' | 'decay' | 'clipnorm' | 'clipvalue' | K>;
/** An optimizer's options as a Keras user may spell them: camelCase, snake_case, `learningRate`/`learning_rate` (Keras 2.3+), `beta_1`/`beta_2`. */
export type OptimizerOptions<K extends keyof OptimizerConfig = never> = KerasOptions<Keys<K>> & {
  readonly learningRate?: number;
  readonly learning_rate?: number;
} & ('beta1' extends K ? { readonly beta_1?: number; readonly beta_2?: number } : unknown);

const BASE_KEYS = { lr: true, decay: true, clipnorm: true, clipvalue: true } as const;
function spec(...extra: (keyof OptimizerConfig)[]): OptionSpec<OptimizerConfig> {
  const keys = { ...BASE_KEYS, ...Object.fromEntries(extra.map((k) => [k, true])) } as Record<keyof OptimizerConfig, true>;
  return { keys, aliases: { learningRate: 'lr' } };
}

const EPS = 1e-7;
const sq = (b: GraphBuilder, x: Value): Value => b.mul(x, x);

const SGD_SPEC = spec('momentum', 'nesterov');

export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly slotNames: readonly string[];

  constructor(lrOrOptions?: number | OptimizerOptions<'momentum' | 'nesterov'>, options?: OptimizerOptions<'momentum' | 'nesterov'>) {
    super(0.01, lrOrOptions, options, SGD_SPEC);
    const config = this.options;
    this.momentum = config.momentum ?? 0;
    this.nesterov = config.nesterov ?? false;
    this.slotNames = this.momentum ? ['moment'] : [];
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots }: ParamState, { lr }: StepContext): { param: Value; slots: Value[] } {
    if (!this.momentum) return { param: b.sub(p, b.mul(g, lr)), slots: [] };
    const v = b.sub(b.mul(slots[0], this.momentum), b.mul(g, lr));
    const param = this.nesterov ? b.sub(b.add(p, b.mul(v, this.momentum)), b.mul(g, lr)) : b.add(p, v);
    return { param, slots: [v] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}

const RMSPROP_SPEC = spec('rho', 'epsilon');

export class RMSprop extends Optimizer {
  readonly className = 'RMSprop';
  readonly slotNames = ['accumulator'];
  readonly rho: number;
  readonly epsilon: number;

  constructor(lrOrOptions?: number | OptimizerOptions<'rho' | 'epsilon'>, options?: OptimizerOptions<'rho' | 'epsilon'>) {
    super(0.001, lrOrOptions, options, RMSPROP_SPEC);
    const config = this.options;
    this.rho = config.rho ?? 0.9;
    this.epsilon = config.epsilon ?? EPS;
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots: [a] }: ParamState, { lr }: StepContext): { param: Value; slots: Value[] } {
    const aNew = b.add(b.mul(a, this.rho), b.mul(sq(b, g), 1 - this.rho));
    return { param: b.sub(p, b.div(b.mul(g, lr), b.add(b.unary('sqrt', aNew), this.epsilon))), slots: [aNew] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), rho: this.rho, epsilon: this.epsilon };
  }
}

const ADAGRAD_SPEC = spec('epsilon');

export class Adagrad extends Optimizer {
  readonly className = 'Adagrad';
  readonly slotNames = ['accumulator'];
  readonly epsilon: number;

  constructor(lrOrOptions?: number | OptimizerOptions<'epsilon'>, options?: OptimizerOptions<'epsilon'>) {
    super(0.01, lrOrOptions, options, ADAGRAD_SPEC);
    const config = this.options;
    this.epsilon = config.epsilon ?? EPS;
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots: [a] }: ParamState, { lr }: StepContext): { param: Value; slots: Value[] } {
    const aNew = b.add(a, sq(b, g));
    return { param: b.sub(p, b.div(b.mul(g, lr), b.add(b.unary('sqrt', aNew), this.epsilon))), slots: [aNew] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), epsilon: this.epsilon };
  }
}

const ADADELTA_SPEC = spec('rho', 'epsilon');

export class Adadelta extends Optimizer {
  readonly className = 'Adadelta';
  readonly slotNames = ['accumulator', 'delta_accumulator'];
  readonly rho: number;
  readonly epsilon: number;

  constructor(lrOrOptions?: number | OptimizerOptions<'rho' | 'epsilon'>, options?: OptimizerOptions<'rho' | 'epsilon'>) {
    super(1.0, lrOrOptions, options, ADADELTA_SPEC);
    const config = this.options;
    this.rho = config.rho ?? 0.95;
    this.epsilon = config.epsilon ?? EPS;
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots: [a, d] }: ParamState, { lr }: StepContext): { param: Value; slots: Value[] } {
    const aNew = b.add(b.mul(a, this.rho), b.mul(sq(b, g), 1 - this.rho));
    const update = b.div(b.mul(g, b.unary('sqrt', b.add(d, this.epsilon))), b.unary('sqrt', b.add(aNew, this.epsilon)));
    const dNew = b.add(b.mul(d, this.rho), b.mul(sq(b, update), 1 - this.rho));
    return { param: b.sub(p, b.mul(update, lr)), slots: [aNew, dNew] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), rho: this.rho, epsilon: this.epsilon };
  }
}

const ADAM_SPEC = spec('beta1', 'beta2', 'epsilon', 'amsgrad');

export class Adam extends Optimizer {
  readonly className = 'Adam';
  readonly slotNames: readonly string[];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly amsgrad: boolean;

  constructor(lrOrOptions?: number | OptimizerOptions<'beta1' | 'beta2' | 'epsilon' | 'amsgrad'>, options?: OptimizerOptions<'beta1' | 'beta2' | 'epsilon' | 'amsgrad'>) {
    super(0.001, lrOrOptions, options, ADAM_SPEC);
    const config = this.options;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? EPS;
    this.amsgrad = config.amsgrad ?? false;
    this.slotNames = this.amsgrad ? ['m', 'v', 'vhat'] : ['m', 'v'];
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots }: ParamState, { lr, t }: StepContext & { t: Value }): { param: Value; slots: Value[] } {
    const lrT = b.div(b.mul(lr, b.unary('sqrt', b.sub(1, b.pow(this.beta2, t)))), b.sub(1, b.pow(this.beta1, t)));
    const m = b.add(b.mul(slots[0], this.beta1), b.mul(g, 1 - this.beta1));
    const v = b.add(b.mul(slots[1], this.beta2), b.mul(sq(b, g), 1 - this.beta2));
    const denomV = this.amsgrad ? b.maximum(slots[2], v) : v;
    const param = b.sub(p, b.div(b.mul(m, lrT), b.add(b.unary('sqrt', denomV), this.epsilon)));
    return { param, slots: this.amsgrad ? [m, v, denomV] : [m, v] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}

const ADAMAX_SPEC = spec('beta1', 'beta2', 'epsilon');

export class Adamax extends Optimizer {
  readonly className = 'Adamax';
  readonly slotNames = ['m', 'u'];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(lrOrOptions?: number | OptimizerOptions<'beta1' | 'beta2' | 'epsilon'>, options?: OptimizerOptions<'beta1' | 'beta2' | 'epsilon'>) {
    super(0.002, lrOrOptions, options, ADAMAX_SPEC);
    const config = this.options;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? EPS;
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots: [m0, u0] }: ParamState, { lr, t }: StepContext & { t: Value }): { param: Value; slots: Value[] } {
    const lrT = b.div(lr, b.sub(1, b.pow(this.beta1, t)));
    const m = b.add(b.mul(m0, this.beta1), b.mul(g, 1 - this.beta1));
    const u = b.maximum(b.mul(u0, this.beta2), b.unary('abs', g));
    return { param: b.sub(p, b.div(b.mul(m, lrT), b.add(u, this.epsilon))), slots: [m, u] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon };
  }
}

const NADAM_SPEC = spec('beta1', 'beta2', 'epsilon', 'scheduleDecay');

export class Nadam extends Optimizer {
  readonly className = 'Nadam';
  readonly slotNames = ['m', 'v'];
  override readonly globals = [{ name: 'm_schedule', init: 1 }];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly scheduleDecay: number;

  constructor(lrOrOptions?: number | OptimizerOptions<'beta1' | 'beta2' | 'epsilon' | 'scheduleDecay'>, options?: OptimizerOptions<'beta1' | 'beta2' | 'epsilon' | 'scheduleDecay'>) {
    super(0.002, lrOrOptions, options, NADAM_SPEC);
    const config = this.options;
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? EPS;
    this.scheduleDecay = config.scheduleDecay ?? 0.004;
  }

  private cache(b: GraphBuilder, t: Value): Value {
    return b.mul(b.sub(1, b.mul(b.pow(0.96, b.mul(t, this.scheduleDecay)), 0.5)), this.beta1);
  }

  protected override updateGlobals(b: GraphBuilder, { t }: StepContext & { t: Value }, [mSchedule]: readonly Value[]): Value[] {
    return [b.mul(mSchedule, this.cache(b, t))];
  }

  protected updateOne(b: GraphBuilder, { param: p, grad: g, slots: [m0, v0] }: ParamState, { lr, t, globals: [mScheduleNew] }: StepContext & { t: Value; globals: readonly Value[] }): { param: Value; slots: Value[] } {
    const cacheT = this.cache(b, t);
    const cacheT1 = this.cache(b, b.add(t, 1));
    const mScheduleNext = b.mul(mScheduleNew, cacheT1);
    const gPrime = b.div(g, b.sub(1, mScheduleNew));
    const m = b.add(b.mul(m0, this.beta1), b.mul(g, 1 - this.beta1));
    const mPrime = b.div(m, b.sub(1, mScheduleNext));
    const v = b.add(b.mul(v0, this.beta2), b.mul(sq(b, g), 1 - this.beta2));
    const vPrime = b.div(v, b.sub(1, b.pow(this.beta2, t)));
    const mBar = b.add(b.mul(gPrime, b.sub(1, cacheT)), b.mul(mPrime, cacheT1));
    return { param: b.sub(p, b.div(b.mul(mBar, lr), b.add(b.unary('sqrt', vPrime), this.epsilon))), slots: [m, v] };
  }

  getConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon, schedule_decay: this.scheduleDecay };
  }
}

const SPECS: Readonly<Record<string, OptionSpec<OptimizerConfig>>> = {
  SGD: SGD_SPEC, RMSprop: RMSPROP_SPEC, Adagrad: ADAGRAD_SPEC, Adadelta: ADADELTA_SPEC, Adam: ADAM_SPEC, Adamax: ADAMAX_SPEC, Nadam: NADAM_SPEC,
};

/** The option keys (camelCase) an optimizer class takes, for readers of saved configs; [] for an unknown class. */
export function optimizerOptionKeys(className: string): readonly string[] {
  return Object.hasOwn(SPECS, className) ? Object.keys(SPECS[className].keys) : [];
}

const OPTIMIZERS: Readonly<Record<string, (c: OptimizerConfig) => Optimizer>> = {
  sgd: (c) => new SGD(c), rmsprop: (c) => new RMSprop(c), adagrad: (c) => new Adagrad(c), adadelta: (c) => new Adadelta(c),
  adam: (c) => new Adam(c), adamax: (c) => new Adamax(c), nadam: (c) => new Nadam(c),
};

/** Resolves an optimizer name (Keras's lowercase identifiers or class names) or instance. */
export function getOptimizer(id: string | Optimizer): Optimizer {
  if (id instanceof Optimizer) return id;
  const make = typeof id === 'string' ? ownEntry(OPTIMIZERS, id.toLowerCase()) : undefined;
  if (!make) throw new Error(`Unknown optimizer ${typeof id === 'string' ? `'${id}'` : describeValue(id)}. Valid optimizers: ${Object.keys(OPTIMIZERS).join(', ')}`);
  return make({});
}
