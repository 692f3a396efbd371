// The zoo-layout fixture our TypeScript writes has the same graph as the shared Python script's
// (../shared/fixtures/make_bvlc_onnx.py): node order, op types, inputs/outputs, attributes,
// initializer names/shapes/types, opset, IR version. Weights differ (other generators) and do not
// count. Needs a python with onnx + numpy (PYTHON=..., the system one, or ../.venv-bench); skipped
// with that reason where none exists.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, type OnnxModel } from '../../ml/weights/onnx-proto';
import { bvlcFixture, findPython, fixtureScript } from './bvlc-fixture';

const py = findPython();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bvlc-structure-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Everything about a model but its weights' values. */
function structure(m: OnnxModel) {
  return {
    irVersion: m.irVersion,
    opset: m.opsetImports,
    producer: m.producerName,
    graph: m.graph.name,
    inputs: m.graph.inputs,
    outputs: m.graph.outputs,
    nodes: m.graph.nodes.map((n) => ({
      name: n.name,
      op: n.opType,
      domain: n.domain,
      inputs: n.inputs,
      outputs: n.outputs,
      attrs: n.attributes.map((a) => ({ name: a.name, type: a.type, f: a.f, i: a.i, ints: a.ints, floats: a.floats })),
    })),
    initializers: m.graph.initializers.map((t) => ({ name: t.name, dims: t.dims, dataType: t.dataType })),
  };
}

describe('the BVLC zoo-layout fixture', () => {
  it('has the zoo graph our importer and ONNX Runtime expect (self-check, always runs)', () => {
    const s = structure(decodeModel(readFileSync(bvlcFixture())));
    expect(s.nodes.map((n) => n.op).join(' ')).toBe(
      'Conv Relu LRN MaxPool Conv Relu LRN MaxPool Conv Relu Conv Relu Conv Relu MaxPool Reshape ' +
        'Gemm Relu Dropout Gemm Relu Dropout Gemm Softmax',
    );
    expect(s.initializers.length).toBe(17);
    expect(s.initializers.find((t) => t.name === 'fc6_w_0')!.dims).toEqual([4096, 9216]);
    expect(s.nodes.filter((n) => n.attrs.some((a) => a.name === 'group' && a.i === 2)).map((n) => n.inputs[1])).toEqual(['conv2_w_0', 'conv4_w_0', 'conv5_w_0']);
  });

  it.skipIf(!py)(`matches ${path.basename(fixtureScript)}'s graph node for node${py ? '' : ' (skipped: no python3 with onnx + numpy; set PYTHON or pip install onnx numpy)'}`, () => {
    const out = path.join(tmp, 'py.onnx');
    const r = spawnSync(py!, [fixtureScript, out, '--seed', '7'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const theirs = structure(decodeModel(readFileSync(out)));
    rmSync(out);
    const ours = structure(decodeModel(readFileSync(bvlcFixture())));
    expect(ours).toEqual(theirs);
  });
});
