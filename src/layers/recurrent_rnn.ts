/**
 * Keras 2.2's generic RNN layer over cells: SimpleRNNCell, GRUCell,
 * LSTMCell and StackedRNNCells (a list of cells). One cell runs exactly as
 * its layer (RNN(LSTMCell(n)) is LSTM(n)); stacked cells run in one scan,
 * the first cell's input projection hoisted out of the loop and each later
 * cell projecting the new h of the cell below inside it.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, shapeText } from './base.js';
import { GRU, LSTM, type RecurrentArgs, type RecurrentLayer, SimpleRNN } from './recurrent.js';
import { sequenceOutput, stepsInOrder } from './recurrent_time.js';
import { type UserCell, UserCellRNN, isUserCell } from './recurrent_user_cell.js';

export type CellClassName = 'SimpleRNNCell' | 'GRUCell' | 'LSTMCell';

/** A cell: the arguments of its layer (activation, initializers, dropout, ...), without the sequence flags. */
export class RNNCell {
  constructor(readonly className: CellClassName, readonly units: number, readonly args: RecurrentArgs = {}) {
    if (!Number.isInteger(units) || units < 1) throw new Error(`${className}: units must be a positive integer, got ${String(units)}`);
  }
}

export class SimpleRNNCell extends RNNCell {
  constructor(units: number, args: RecurrentArgs = {}) {
    super('SimpleRNNCell', units, args);
  }
}

export class GRUCell extends RNNCell {
  constructor(units: number, args: RecurrentArgs & { resetAfter?: boolean } = {}) {
    super('GRUCell', units, args);
  }
}

export class LSTMCell extends RNNCell {
  constructor(units: number, args: RecurrentArgs & { unitForgetBias?: boolean } = {}) {
    super('LSTMCell', units, args);
  }
}

export class StackedRNNCells {
  readonly className = 'StackedRNNCells';
  constructor(readonly cells: readonly RNNCell[]) {
    if (!Array.isArray(cells) || cells.length === 0 || cells.some((c) => !(c instanceof RNNCell))) throw new Error(`StackedRNNCells takes a non-empty list of cells (SimpleRNNCell, GRUCell, LSTMCell)${Array.isArray(cells) && cells.some(isUserCell) ? '; a cell written by a user runs alone in RNN(cell), not stacked yet' : ''}`);
  }
}

const SEQUENCE_FLAGS = ['returnSequences', 'returnState', 'goBackwards', 'stateful', 'unroll'] as const;
const LAYER_ONLY = new Set<string>([...SEQUENCE_FLAGS, 'name', 'trainable', 'batchInputShape', 'dtype']);

export interface RNNArgs extends LayerArgs {
  readonly returnSequences?: boolean;
  readonly returnState?: boolean;
  readonly goBackwards?: boolean;
  readonly stateful?: boolean;
  readonly unroll?: boolean;
}

function layerFor(cell: RNNCell, args: RecurrentArgs): RecurrentLayer {
  switch (cell.className) {
    case 'SimpleRNNCell': return new SimpleRNN(cell.units, args);
    case 'GRUCell': return new GRU(cell.units, args);
    case 'LSTMCell': return new LSTM(cell.units, args);
  }
}

/** A cell from its serialized form {className, config} (camelCase config). */
export function cellFromConfig(c: unknown): RNNCell | StackedRNNCells {
  const spec = c as { className?: string; config?: Record<string, unknown> } | undefined;
  const config = spec?.config ?? {};
  if (spec?.className === 'StackedRNNCells') return new StackedRNNCells(((config.cells as unknown[]) ?? []).map((x) => cellFromConfig(x) as RNNCell));
  if (spec?.className === 'SimpleRNNCell' || spec?.className === 'GRUCell' || spec?.className === 'LSTMCell') {
    const args = Object.fromEntries(Object.entries(config).filter(([k]) => !LAYER_ONLY.has(k)));
    return new RNNCell(spec.className, config.units as number, args);
  }
  throw new Error(`RNN: unknown cell class ${JSON.stringify(spec?.className)}. Valid cells: SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells; pass a cell class of your own in customObjects`);
}

export class RNN extends Layer {
  readonly className = 'RNN';
  override supportsMasking = true;
  readonly cell: RNNCell | StackedRNNCells | UserCell;
  /** One layer per cell holding its weights; a single cell's layer also runs it. */
  private readonly cells: RecurrentLayer[];
  /** A cell written by a user (recurrent_user_cell.ts) runs through this instead. */
  private readonly user: UserCellRNN | null = null;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly unroll: boolean;

  constructor(cell: RNNCell | StackedRNNCells | readonly RNNCell[] | UserCell, args: RNNArgs = {}) {
    super(args);
    this.cell = Array.isArray(cell) ? new StackedRNNCells(cell) : (cell as RNNCell | StackedRNNCells | UserCell);
    if (!(this.cell instanceof RNNCell) && !(this.cell instanceof StackedRNNCells) && !isUserCell(this.cell)) throw new Error(`RNN ${this.name}: cell must be a SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells, a list of cells, or a layer with stateSize and call(inputs, states)`);
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.unroll = args.unroll ?? false;
    const flags = { returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll };
    if (isUserCell(this.cell)) {
      this.user = new UserCellRNN(this.cell, { ...flags, name: this.name, batchInputShape: args.batchInputShape });
      this.cells = [];
      return;
    }
    const list = this.cell instanceof StackedRNNCells ? this.cell.cells : [this.cell];
    this.cells = list.map((c, i) => layerFor(c, { ...c.args, ...flags, name: list.length === 1 ? this.name : `${this.name}/cell_${i}`, batchInputShape: args.batchInputShape }));
  }

  override get weights(): readonly Weight[] {
    return this.user ? this.user.weights : this.cells.flatMap((l) => l.weights);
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return this.user ? this.user.keptStates : this.cells.flatMap((l) => l.keptStates);
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    expectRank(this, shape, 3, 3);
    if (this.user) this.user.shapesFor([shape]);
    let s = shape;
    for (const l of this.cells) {
      l.shapesFor([s]);
      s = [s[0], s[1], l.units];
    }
    this.built = true;
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    if (this.user) return this.user.computeOutputShapes(inputShapes);
    if (this.cells.length === 1) return this.cells[0].computeOutputShapes(inputShapes);
    const [x, ...initial] = inputShapes;
    expectRank(this, x, 3, 3);
    const states = this.cells.flatMap((l) => Array.from({ length: l.stateCount }, (): KShape => [x[0], l.units]));
    if (initial.length && initial.length !== states.length) throw new Error(`RNN ${this.name}: initial_state needs ${states.length} tensors (every state of every cell), got ${initial.length}`);
    initial.forEach((s, i) => {
      if (s.length !== 2 || s[1] !== states[i][1]) throw new Error(`RNN ${this.name}: initial state ${i} must have shape ${shapeText(states[i])}, got ${shapeText(s)}`);
    });
    const units = this.cells[this.cells.length - 1].units;
    const out: KShape = this.returnSequences ? [x[0], x[1], units] : [x[0], units];
    return this.returnState ? [out, ...states] : [out];
  }

  override maskList(b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    if (this.user) return this.user.maskList(b, xs, masks);
    if (this.cells.length === 1) return this.cells[0].maskList(b, xs, masks);
    const out = this.returnSequences ? masks[0] ?? null : null;
    const states = this.cells.reduce((n, l) => n + l.stateCount, 0);
    return this.returnState ? [out, ...Array.from({ length: states }, () => null)] : [out];
  }

  /** The run-time sequence length where the input has timesteps=None, else null. */
  runtimeSteps(ctx: CallContext): Value | null {
    return (this.user ?? this.cells[0]).runtimeSteps(ctx);
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    if (this.user) return this.user.lowerList(b, xs, ctx, masks);
    if (this.cells.length === 1) return this.cells[0].lowerList(b, xs, ctx, masks);
    const [x, ...initial] = xs;
    const [batch, steps] = x.shape;
    const n = this.cells[0].runtimeSteps(ctx);
    const { xt, reverse, order } = stepsInOrder(b, x, this.goBackwards, n);
    const proj = this.cells[0].project(b, xt, ctx);
    const mask = masks?.[0] ?? null;
    const maskT = mask ? order(b.reshape(b.transpose(b.cast(mask, 'bool'), [1, 0]), [steps, batch, 1])) : null;
    const parts = this.cells.map((l, i) => ({ layer: l, step: l.stepParts(b, ctx, batch), input: i > 0 ? l.inputParts(b, ctx, batch) : null }));
    const invariants = parts.flatMap((p) => [...(p.input?.invariants ?? []), ...p.step.invariants]);
    // Stateful: every cell keeps its own states (`<rnn>/cell_<i>/state_<j>`).
    const kept = this.stateful ? this.cells.flatMap((l) => l.stateValues(batch, ctx)) : null;
    const init = initial.length ? [...initial] : kept ? kept.map((s) => s.value) : this.cells.flatMap((l) => Array.from({ length: l.stateCount }, () => b.broadcastTo(b.constant(0, [], x.dtype), [batch, l.units])));
    const results = scan(b, { init, sequences: [proj, ...(maskT ? [maskT] : [])], invariants, reverse, steps: n }, (sb, states, [xp, m], inv) => {
      let next: Value[] = [];
      let input = xp;
      let at = 0;
      let state = 0;
      for (const p of parts) {
        const take = (n: number): Value[] => inv.slice(at, (at += n));
        if (p.input) input = p.input.project(sb, input, take(p.input.invariants.length));
        const own = states.slice(state, (state += p.layer.stateCount));
        const updated = p.step.step(sb, input, own, take(p.step.invariants.length));
        next = [...next, ...updated];
        input = updated[0];
      }
      if (m) next = next.map((v, i) => sb.select(sb.broadcastTo(m, v.shape), v, states[i]));
      const last = this.cells[this.cells.length - 1].stateCount;
      return { carries: next, outputs: this.returnSequences ? [next[next.length - last]] : [] };
    });
    const finals = results.slice(0, init.length);
    kept?.forEach((s, i) => s.set(finals[i]));
    const lastH = finals[finals.length - this.cells[this.cells.length - 1].stateCount];
    const output = this.returnSequences ? sequenceOutput(b, results[init.length], this.goBackwards, n) : lastH;
    return this.returnState ? [output, ...finals] : [output];
  }

  private cellConfig(l: RecurrentLayer, c: RNNCell): { className: string; config: Record<string, unknown> } {
    const config = Object.fromEntries(Object.entries(l.getConfig()).filter(([k]) => !LAYER_ONLY.has(k)));
    return { className: c.className, config: { name: l.name, trainable: true, ...config } };
  }

  protected override layerConfig(): Record<string, unknown> {
    const flags = { returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll };
    if (isUserCell(this.cell)) return { ...flags, cell: { className: this.cell.className, config: this.cell.getConfig() } };
    const list = this.cell instanceof StackedRNNCells ? this.cell.cells : [this.cell as RNNCell];
    const cells = this.cells.map((l, i) => this.cellConfig(l, list[i]));
    return {
      returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll,
      cell: cells.length === 1 ? cells[0] : { className: 'StackedRNNCells', config: { cells } },
    };
  }
}
