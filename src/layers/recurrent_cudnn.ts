/**
 * Keras 2's CuDNNLSTM and CuDNNGRU, run as the LSTM and GRU they equal
 * (keras/layers/cudnn_recurrent.py): tanh and the standard sigmoid, GRU in
 * its reset_after form, and the cuDNN bias layout kept as it is in the
 * weights (an input bias then a recurrent bias), so their configs and
 * weights files load unchanged.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { Weight } from './base.js';
import { spellOptionsEarly } from './layer_options.js';
import { GRU, type GRUArgs, LSTM, type LSTMArgs } from './recurrent.js';

const CUDNN_ACTIVATIONS = { activation: 'tanh', recurrentActivation: 'sigmoid' } as const;

export class CuDNNLSTM extends LSTM {
  override readonly className: string = 'CuDNNLSTM';

  constructor(units: number, args: LSTMArgs = {}) {
    spellOptionsEarly('CuDNNLSTM', args);
    super(units, { ...args, ...CUDNN_ACTIVATIONS, dropout: 0, recurrentDropout: 0 });
  }

  protected override biasShape(): number[] {
    return [8 * this.units];
  }

  /** Keras's CuDNNLSTM puts unit_forget_bias's ones on the recurrent half's forget gate. */
  protected override initBias(w: Weight): void {
    if (this.unitForgetBias) w.value.fill(1, 5 * this.units, 6 * this.units);
  }

  protected override inputBias(b: GraphBuilder, bias: Value): Value {
    const n = 4 * this.units;
    return b.add(b.slice(bias, [0], [n]), b.slice(bias, [n], [n]));
  }
}

export class CuDNNGRU extends GRU {
  override readonly className: string = 'CuDNNGRU';

  constructor(units: number, args: GRUArgs = {}) {
    spellOptionsEarly('CuDNNGRU', args);
    super(units, { ...args, ...CUDNN_ACTIVATIONS, resetAfter: true, dropout: 0, recurrentDropout: 0 });
  }

  protected override biasShape(): number[] {
    return [6 * this.units];
  }

  protected override inputBias(b: GraphBuilder, bias: Value): Value {
    return b.slice(bias, [0], [3 * this.units]);
  }

  protected override recurrentBias(b: GraphBuilder, bias: Value | null): Value | null {
    return bias ? b.slice(bias, [3 * this.units], [3 * this.units]) : null;
  }
}
