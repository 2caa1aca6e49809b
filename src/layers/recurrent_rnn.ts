/**
 * Keras 2.2's generic RNN layer over cells: SimpleRNNCell, GRUCell,
 * LSTMCell, cells written by users (recurrent_user_cell.ts) and
 * StackedRNNCells (a list of any of them). One built-in cell runs exactly as
 * its layer (RNN(LSTMCell(n)) is LSTM(n)); a user cell, or stacked cells,
 * run in one scan (recurrent_stack.ts).
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, shapeText } from './base.js';
import { GRU, LSTM, type RecurrentArgs, type RecurrentLayer, SimpleRNN } from './recurrent.js';
import { BuiltInMember, type StackFlags, type StackMember, lowerStack, stackOutputShapes } from './recurrent_stack.js';
import { runtimeSteps } from './recurrent_time.js';
import { type UserCell, UserCellMember, isUserCell } from './recurrent_user_cell.js';

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

/** A cell StackedRNNCells and RNN take: a built-in cell, or one written by a user (recurrent_user_cell.ts). */
export type Cell = RNNCell | UserCell;

export interface StackedRNNCellsArgs {
  /** Keras 2.2.0-2.2.2's order of the states at the layer's edges (initial_state, return_state): last cell first. Default: cell by cell, as Keras 2.2.3 and later. */
  readonly reverseStateOrder?: boolean;
}

export class StackedRNNCells {
  readonly className = 'StackedRNNCells';
  readonly reverseStateOrder: boolean;

  constructor(readonly cells: readonly Cell[], args: StackedRNNCellsArgs = {}) {
    if (!Array.isArray(cells) || cells.length === 0) throw new Error(`StackedRNNCells takes a non-empty list of cells, got ${Array.isArray(cells) ? 'an empty list' : typeof cells}`);
    const bad = cells.findIndex((c) => !(c instanceof RNNCell) && !isUserCell(c));
    if (bad >= 0) throw new Error(`StackedRNNCells: cell ${bad} is not a cell: every cell must be a SimpleRNNCell, GRUCell, LSTMCell or a layer with stateSize and call(inputs, states) (an AbstractRNNCell)`);
    this.reverseStateOrder = args.reverseStateOrder ?? false;
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

/** Makes a cell written by a user from its {className, config}, or answers null where the class is not a custom object. */
export type CustomCellMaker = (className: string, config: Record<string, unknown>) => UserCell | null;

const CELL_NAMES = 'SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells';

/** A cell from its serialized form {className, config} (camelCase config); cells of users through `custom`. */
export function cellFromConfig(c: unknown, custom: CustomCellMaker = () => null): Cell | StackedRNNCells {
  const spec = c as { className?: string; config?: Record<string, unknown> } | undefined;
  const config = spec?.config ?? {};
  const mine = typeof spec?.className === 'string' ? custom(spec.className, config) : null;
  if (mine) return mine;
  if (spec?.className === 'StackedRNNCells') {
    const cells = config.cells;
    if (!Array.isArray(cells)) throw new Error(`RNN: a StackedRNNCells config needs a list of cells, got ${JSON.stringify(cells)}`);
    return new StackedRNNCells(cells.map((x) => cellFromConfig(x, custom) as Cell), { reverseStateOrder: config.reverseStateOrder === true });
  }
  if (spec?.className === 'SimpleRNNCell' || spec?.className === 'GRUCell' || spec?.className === 'LSTMCell') {
    const args = Object.fromEntries(Object.entries(config).filter(([k]) => !LAYER_ONLY.has(k)));
    return new RNNCell(spec.className, config.units as number, args);
  }
  throw new Error(`RNN: unknown cell class ${JSON.stringify(spec?.className)}. Valid cells: ${CELL_NAMES}; pass a cell class of your own in customObjects`);
}

export class RNN extends Layer {
  readonly className = 'RNN';
  override supportsMasking = true;
  readonly cell: Cell | StackedRNNCells;
  /** The cells of the loop; one built-in cell alone runs as its layer (RNN(LSTMCell(n)) is LSTM(n)). */
  private readonly members: StackMember[];
  private readonly alone: RecurrentLayer | null;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly unroll: boolean;

  constructor(cell: Cell | StackedRNNCells | readonly Cell[], args: RNNArgs = {}) {
    super(args);
    this.cell = Array.isArray(cell) ? new StackedRNNCells(cell) : (cell as Cell | StackedRNNCells);
    if (!(this.cell instanceof RNNCell) && !(this.cell instanceof StackedRNNCells) && !isUserCell(this.cell)) throw new Error(`RNN ${this.name}: cell must be a SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells, a list of cells, or a layer with stateSize and call(inputs, states)`);
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.unroll = args.unroll ?? false;
    const flags = { returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll };
    const list = this.cell instanceof StackedRNNCells ? this.cell.cells : [this.cell];
    const nameOf = (i: number): string => (list.length === 1 ? this.name : `${this.name}/cell_${i}`);
    this.members = list.map((c, i) => (c instanceof RNNCell
      ? new BuiltInMember(layerFor(c, { ...c.args, ...flags, name: nameOf(i), batchInputShape: args.batchInputShape }))
      : new UserCellMember(c, this.name, nameOf(i), this.stateful)));
    const only = this.members.length === 1 ? this.members[0] : null;
    this.alone = only instanceof BuiltInMember ? only.layer : null;
  }

  private get flags(): StackFlags {
    const reverseStateOrder = this.cell instanceof StackedRNNCells && this.cell.reverseStateOrder;
    return { returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, reverseStateOrder };
  }

  override get weights(): readonly Weight[] {
    return this.members.flatMap((m) => m.weights);
  }

  override get trainableWeights(): readonly Weight[] {
    return this.trainable ? this.members.flatMap((m) => m.trainableWeights) : [];
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return this.members.flatMap((m) => m.keptStates);
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    expectRank(this, shape, 3, 3);
    if (this.stateful && shape[0] === null) throw new Error(`RNN ${this.name}: a stateful RNN needs a fixed batch size: give the first layer batchInputShape (or batchSize), got input shape ${shapeText(shape)}`);
    let s = shape;
    for (const m of this.members) {
      m.build(s);
      s = [s[0], s[1], m.outputSize];
    }
    this.built = true;
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    if (this.alone) return this.alone.computeOutputShapes(inputShapes);
    expectRank(this, inputShapes[0], 3, 3);
    return stackOutputShapes(`RNN ${this.name}`, this.members, this.flags, inputShapes);
  }

  override maskList(b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    if (this.alone) return this.alone.maskList(b, xs, masks);
    const out = this.returnSequences ? masks[0] ?? null : null;
    const states = this.members.reduce((n, m) => n + m.stateSizes.length, 0);
    return this.returnState ? [out, ...Array.from({ length: states }, () => null)] : [out];
  }

  /** The run-time sequence length where the input has timesteps=None, else null. */
  runtimeSteps(ctx: CallContext): Value | null {
    return runtimeSteps(ctx);
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    if (this.alone) return this.alone.lowerList(b, xs, ctx, masks);
    return lowerStack(b, xs, ctx, masks, this.members, this.flags);
  }

  private cellConfig(m: StackMember, c: Cell): { className: string; config: Record<string, unknown> } {
    if (!(m instanceof BuiltInMember)) return { className: c.className, config: (c as UserCell).getConfig() };
    const config = Object.fromEntries(Object.entries(m.layer.getConfig()).filter(([k]) => !LAYER_ONLY.has(k)));
    return { className: c.className, config: { name: m.layer.name, trainable: true, ...config } };
  }

  protected override layerConfig(): Record<string, unknown> {
    const list = this.cell instanceof StackedRNNCells ? this.cell.cells : [this.cell];
    const cells = this.members.map((m, i) => this.cellConfig(m, list[i]));
    const reverse = this.flags.reverseStateOrder ? { reverseStateOrder: true } : {};
    return {
      returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll,
      cell: cells.length === 1 && !reverse.reverseStateOrder ? cells[0] : { className: 'StackedRNNCells', config: { cells, ...reverse } },
    };
  }
}
