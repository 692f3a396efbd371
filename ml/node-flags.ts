// Node flags of every process that runs the engine (the app's worker, Electron's utilityProcess,
// bin/alexnet, the benchmark's children): --expose-gc lets the engine collect the JS arrays a model's
// weights came from as soon as they are in the backend (backend.ts, collectGarbage).
// A module of its own, importing nothing, so a process that only starts engines never loads TF.js.
export const ENGINE_NODE_FLAGS: readonly string[] = ['--expose-gc'];
