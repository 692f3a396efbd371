// SGD with momentum and weight decay, exactly the update rule of the 2012 paper (section 5):
//
//   v <- momentum * v - weightDecay * lr * w - lr * dL/dw
//   w <- w + v
//
// with per-parameter learning-rate multipliers (fine-tuning deeper layers at a lower rate;
// multiplier 0 = frozen: the parameter is not updated, no gradient is asked for, no velocity kept).
//
// Why our own and not tf.train.momentum: TF.js's MomentumOptimizer implements
// v <- m v + g; w <- w - lr v (the learning rate outside the velocity, so dividing the rate by 10
// rescales the whole accumulated velocity at once instead of letting it decay as the paper's rule
// does), has no weight decay, no per-variable rate, and its state is keyed by TF.js's global variable
// names, which change from one process to the next. Here the state is one Float32Array per ParamName,
// which is what a checkpoint stores, and resuming gives the same numbers as not stopping.

import * as tf from '@tensorflow/tfjs-core';
import { PARAM_NAMES, type ParamName, type Params } from './config';
import { ownVariable } from './model';
import { readTensor } from './backend';

export type SgdOptions = {
  lr: number; // base learning rate; the paper starts at 0.01 (from scratch), we use 0.001 for fine-tuning
  momentum: number; // 0.9, the paper's
  weightDecay: number; // 5e-4, the paper's ("not merely a regulariser: it reduces training error")
  lrMult: Partial<Record<ParamName, number>>; // per-parameter multiplier of lr; absent = 1, 0 = frozen
};

export const DEFAULT_SGD: Omit<SgdOptions, 'lrMult'> = {
  lr: 0.01, // the paper's initial rate (training from scratch)
  momentum: 0.9, // the paper's
  weightDecay: 5e-4, // the paper's
};

/** Velocities (one per trainable parameter) and the number of steps taken, as plain arrays. */
export type SgdState = { step: number; velocity: Partial<Record<ParamName, Float32Array>> };

export class Sgd {
  lr: number; // current base rate (the plateau schedule lowers it)
  readonly momentum: number;
  readonly weightDecay: number;
  readonly lrMult: Partial<Record<ParamName, number>>;
  step = 0; // updates applied so far
  // The velocity is kept as the weights before the last update: v = w - prev. The rule then reads
  //   w' = (1 + m - lr wd) w - m prev - lr g,   prev' = w
  // one sum of three scaled terms and no separate w += v pass, and prev' is the old weights' buffer
  // itself (no copy). For fc6 (37.7M weights) each pass over a parameter reads or writes 151 MB, and
  // these passes are most of a step that trains fc layers on cached features: 8 passes where the
  // gradient comes pre-scaled (gradScale()), against 13 for v = m v - lr g - lr wd w; w += v. That
  // speeds up the cached transfer step and leaves a full training step's speed and peak memory as
  // they were (bench/README.md ("Engine choices")). The same numbers in exact arithmetic; the velocity carried is the update
  // as applied (rounded to w's precision). A checkpoint still stores v (exportState).
  private readonly prev = new Map<ParamName, tf.Variable>();
  // Two forms of the same update. Where only fc layers train, the AddN form (fewest passes, four
  // temporaries alive at once). Where conv layers train too, memory is what binds (the peak of a
  // full training step), and TensorFlow's pooling allocator grew by about 500 MB with extra live
  // temporaries: there the lean form keeps at most three alive.
  private readonly fewerPasses: boolean;

  constructor(opts: Partial<SgdOptions> = {}) {
    this.lr = opts.lr ?? DEFAULT_SGD.lr;
    this.momentum = opts.momentum ?? DEFAULT_SGD.momentum;
    this.weightDecay = opts.weightDecay ?? DEFAULT_SGD.weightDecay;
    this.lrMult = { ...(opts.lrMult ?? {}) };
    this.fewerPasses = !this.trainable().some((n) => n.startsWith('conv'));
  }

  /** Multiplier of parameter `name` (1 unless set). */
  mult(name: ParamName): number {
    return this.lrMult[name] ?? 1;
  }

  /** The parameters this optimiser updates (multiplier > 0), in network order. */
  trainable(): ParamName[] {
    return PARAM_NAMES.filter((n) => this.mult(n) > 0);
  }

  /**
   * The factor to scale the loss by before differentiating it, so that the gradient of the largest
   * trainable parameter arrives as -lr g, the very term its update adds (one pass over it fewer:
   * 151 MB for fc6). Give the same factor to apply(). 1 when nothing trains.
   */
  gradScale(params: Params): number {
    let big: ParamName | null = null;
    for (const n of this.trainable()) if (big === null || params[n].size > params[big].size) big = n;
    const s = big === null ? 0 : -this.lr * this.mult(big);
    return s < 0 && Number.isFinite(s) ? s : 1;
  }

  /**
   * One update. `grads` holds dL/dw times `gradScale` (see gradScale(); 1: plain gradients) for (a
   * subset of) the trainable parameters; parameters absent from it, or frozen, are left alone. The
   * gradient tensors are not disposed (the caller owns them).
   */
  apply(params: Params, grads: Partial<Record<ParamName, tf.Tensor>>, gradScale = 1): void {
    const m = this.momentum;
    for (const name of this.trainable()) {
      const g = grads[name];
      if (!g) continue;
      const w = params[name];
      const lr = this.lr * this.mult(name);
      const a = 1 + m - lr * this.weightDecay; // w's factor
      const c = -lr / gradScale; // g's factor: exactly 1 for the parameter gradScale() was picked for
      const step = (): tf.Tensor => (c === 1 ? g : tf.mul(g, c)); // -lr dL/dw
      // no velocity yet: v = 0, prev = w (the same buffer)
      const prev = this.prev.get(name) ?? ownVariable(tf.clone(w), false);
      this.prev.set(name, prev);
      tf.tidy(() => {
        let next: tf.Tensor;
        if (this.fewerPasses) {
          const terms = [tf.mul(w, a), tf.mul(prev, -m), step()];
          next = tf.addN(terms);
          for (const t of terms) if (t !== g) t.dispose();
        } else {
          // each temporary freed as soon as it is used: at most three alive (10 passes, 12 where g
          // needs scaling)
          const wa = tf.mul(w, a);
          const pm = tf.mul(prev, m);
          const kept = tf.sub(wa, pm);
          wa.dispose();
          pm.dispose();
          const scaled = step();
          next = tf.add(kept, scaled);
          kept.dispose();
          if (scaled !== g) scaled.dispose();
        }
        const old = tf.clone(w); // w's buffer, which becomes prev
        w.assign(next);
        prev.assign(old);
      });
    }
    this.step++;
  }

  /**
   * Velocities (v = w - prev) as Float32Arrays, for a checkpoint. `prev` is then re-derived from
   * them (w - v, which may differ from it in the last bit), so that a run resumed from this state and
   * the run that goes on compute the very same numbers.
   */
  async exportState(params: Params): Promise<SgdState> {
    const velocity: Partial<Record<ParamName, Float32Array>> = {};
    for (const [name, prev] of this.prev) {
      const w = params[name];
      const v = tf.sub(w, prev);
      velocity[name] = await readTensor(v);
      const rebased = tf.sub(w, v);
      prev.assign(rebased);
      rebased.dispose();
      v.dispose();
    }
    return { step: this.step, velocity };
  }

  /** Restores velocities written by exportState (shapes must match the parameters). */
  importState(state: SgdState, params: Params): void {
    this.disposeState();
    this.step = state.step;
    for (const name of PARAM_NAMES) {
      const data = state.velocity[name];
      if (!data) continue;
      const shape = params[name].shape;
      if (data.length !== params[name].size) {
        throw new Error(`optimizer state for ${name} has ${data.length} values, the parameter ${params[name].size}`);
      }
      const v = tf.tensor(data, shape, 'float32');
      this.prev.set(name, ownVariable(tf.sub(params[name], v), false));
      v.dispose();
    }
  }

  /** Frees the velocity tensors. */
  disposeState(): void {
    for (const v of this.prev.values()) v.dispose();
    this.prev.clear();
  }
}
