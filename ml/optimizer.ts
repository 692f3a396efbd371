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
import { moveToNative } from './kernels/tensorflow';
import { ownVariable } from './model';

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
  private readonly velocity = new Map<ParamName, tf.Variable>();
  // Two forms of the same update. For fc6 (37.7M weights) each pass over a parameter reads or writes
  // 151 MB, and these passes are most of a step that trains only fc layers on cached features: there
  // the AddN form (5 passes instead of 6, three temporaries alive at once) is faster, measured
  // (npm run bench -- --only transfer): 66 -> 84 images/s. Where conv layers train too, memory is
  // what binds (the peak of a full training step), and TensorFlow's pooling allocator grew by about
  // 500 MB with the extra live temporaries: there the lean form keeps at most two alive.
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
   * One update. `grads` holds dL/dw for (a subset of) the trainable parameters; parameters absent
   * from it, or frozen, are left alone. The gradient tensors are not disposed (the caller owns them).
   */
  apply(params: Params, grads: Partial<Record<ParamName, tf.Tensor>>): void {
    for (const name of this.trainable()) {
      const g = grads[name];
      if (!g) continue;
      const w = params[name];
      const lr = this.lr * this.mult(name);
      let v = this.velocity.get(name);
      if (!v) {
        v = ownVariable(tf.zerosLike(w), false);
        this.velocity.set(name, v);
      }
      const vv = v;
      if (this.fewerPasses) {
        tf.tidy(() => {
          // v = m v - lr g - lr wd w as one AddN of three scaled terms (4 passes over the
          // parameter's memory), then w += v
          const terms = [tf.mul(vv, this.momentum), tf.mul(g, -lr), tf.mul(w, -lr * this.weightDecay)];
          const next = tf.addN(terms);
          for (const t of terms) t.dispose();
          vv.assign(next);
          w.assign(tf.add(w, next));
        });
      } else {
        tf.tidy(() => {
          // v = m v - lr (g + wd w); w += v, each temporary freed as soon as it is used: at most
          // two live at a time
          const decay = tf.mul(w, this.weightDecay);
          const grad = tf.add(g, decay);
          decay.dispose();
          const scaled = tf.mul(grad, lr);
          grad.dispose();
          const kept = tf.mul(vv, this.momentum);
          const next = tf.sub(kept, scaled);
          kept.dispose();
          scaled.dispose();
          vv.assign(next);
          w.assign(tf.add(w, next));
        });
      }
    }
    this.step++;
  }

  /** Velocities as Float32Arrays (copies), for a checkpoint. */
  async exportState(): Promise<SgdState> {
    const velocity: Partial<Record<ParamName, Float32Array>> = {};
    for (const [name, v] of this.velocity) velocity[name] = (await v.data()) as Float32Array;
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
      this.velocity.set(name, ownVariable(tf.tensor(data, shape, 'float32'), false));
    }
    moveToNative([...this.velocity.values()]); // the checkpoint's arrays can be collected now
  }

  /** Frees the velocity tensors. */
  disposeState(): void {
    for (const v of this.velocity.values()) v.dispose();
    this.velocity.clear();
  }
}
