// A model with seeded random weights at a He-like scale (so activations survive eight layers and the
// softmax shows differences; the paper's N(0, 0.01) init would give near-uniform outputs), for
// export and import tests.
import { PARAM_NAMES, paramShapes, type AlexNetConfig, type ParamName } from '../../ml/config';
import { createRng } from '../../ml/rng';

export function randomArrays(config: AlexNetConfig, seed: number): Record<ParamName, Float32Array> {
  const shapes = paramShapes(config);
  const out = {} as Record<ParamName, Float32Array>;
  for (const name of PARAM_NAMES) {
    const rng = createRng(seed).fork(name);
    const shape = shapes[name];
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (name.endsWith('.b')) for (let i = 0; i < n; i++) a[i] = 0.1 * rng.normal();
    else {
      const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
      const std = Math.sqrt(2 / fanIn) * (name === 'fc8.w' ? 0.3 : 1);
      for (let i = 0; i < n; i++) a[i] = std * rng.normal();
    }
    out[name] = a;
  }
  return out;
}
