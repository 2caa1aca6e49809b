/**
 * Regularization layers that are the identity at inference: Dropout and its
 * spatial variants, GaussianNoise, GaussianDropout, AlphaDropout. Their
 * training-time behaviour (counter-based random masks) belongs to the
 * training programs.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type KShape, Layer, type LayerArgs } from './base.js';

abstract class InferenceIdentity extends Layer {
  computeOutputShape(s: KShape): KShape {
    return s;
  }

  call(_b: GraphBuilder, x: Value): Value {
    return x;
  }
}

function checkRate(layer: Layer, rate: number): void {
  if (!(rate >= 0 && rate < 1)) throw new Error(`${layer.className} ${layer.name}: rate must be in [0, 1), got ${rate}`);
}

export interface DropoutArgs extends LayerArgs {
  readonly noiseShape?: readonly (number | null)[] | null;
  readonly seed?: number | null;
}

export class Dropout extends InferenceIdentity {
  readonly className: string = 'Dropout';

  constructor(readonly rate: number, readonly args: DropoutArgs = {}) {
    super(args);
    checkRate(this, rate);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { rate: this.rate, noiseShape: this.args.noiseShape ?? null, seed: this.args.seed ?? null };
  }
}

export class SpatialDropout1D extends Dropout {
  override readonly className: string = 'SpatialDropout1D';
}

export class SpatialDropout2D extends Dropout {
  override readonly className: string = 'SpatialDropout2D';
}

export class SpatialDropout3D extends Dropout {
  override readonly className: string = 'SpatialDropout3D';
}

export class AlphaDropout extends Dropout {
  override readonly className: string = 'AlphaDropout';
}

export class GaussianDropout extends InferenceIdentity {
  readonly className = 'GaussianDropout';

  constructor(readonly rate: number, args: LayerArgs = {}) {
    super(args);
    checkRate(this, rate);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { rate: this.rate };
  }
}

export class GaussianNoise extends InferenceIdentity {
  readonly className = 'GaussianNoise';

  constructor(readonly stddev: number, args: LayerArgs = {}) {
    super(args);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { stddev: this.stddev };
  }
}
