// ml/weights/onnx-proto.ts, ONNX's messages on the shared wire codec: a model with every field we
// write (each attribute kind, raw and packed float data, int32 and int64 data, symbolic dims,
// metadata) decodes to what was encoded, big tensors come back as views into the file, and a file
// that is not an ONNX model says so.
import { describe, expect, it } from 'vitest';
import { Msg } from '../../../ml/wire';
import {
  AT_FLOAT,
  AT_FLOATS,
  AT_INT,
  AT_INTS,
  AT_STRING,
  AT_STRINGS,
  AT_TENSOR,
  DT_FLOAT,
  DT_INT32,
  attr,
  decodeModel,
  encodeModel,
  floatTensor,
  int64Tensor,
  ProtoError,
  tensorFloats,
  tensorInts,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxTensor,
} from '../../../ml/weights/onnx-proto';

const concat = (chunks: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(chunks));
const blank = (name: string, type: number): OnnxAttribute => ({ name, type, f: 0, i: 0, s: new Uint8Array(0), t: null, floats: [], ints: [], strings: [] });
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function sample(): OnnxModel {
  const weights = floatTensor('w', [2, 3], Float32Array.from([1, -2, 3.5, 0, 1e-3, -7]));
  const packed: OnnxTensor = { ...floatTensor('packed', [2], new Float32Array(0)), raw: null, floatData: new Uint8Array(Float32Array.from([0.25, -4]).buffer) };
  const int32: OnnxTensor = { name: 'i32', dims: [3], dataType: DT_INT32, raw: null, floatData: null, int64Data: [], int32Data: [1, -1, 70000], external: false };
  const attributes: OnnxAttribute[] = [
    attr.int('axis', -1),
    attr.float('alpha', 0.5),
    attr.ints('pads', [0, 1, 2, 3]),
    { ...blank('mode', AT_STRING), s: utf8('constant') },
    { ...blank('scales', AT_FLOATS), floats: [1.5, 2] },
    { ...blank('names', AT_STRINGS), strings: [utf8('a'), utf8('bc')] },
    { ...blank('value', AT_TENSOR), t: int64Tensor('', [5, -6]) },
  ];
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 12 }],
    producerName: 'test',
    producerVersion: '1',
    domain: 'org.example',
    modelVersion: 3,
    docString: 'a model',
    graph: {
      name: 'g',
      nodes: [{ name: 'n0', opType: 'Op', domain: 'org.example', inputs: ['x', 'w'], outputs: ['y'], attributes }],
      initializers: [weights, packed, int32, int64Tensor('shape', [1, -1])],
      inputs: [{ name: 'x', elemType: DT_FLOAT, shape: ['N', 3] }],
      outputs: [{ name: 'y', elemType: DT_FLOAT, shape: null }],
      docString: 'the graph',
    },
    metadata: [{ key: 'k', value: 'v' }],
  };
}

describe('ONNX messages', () => {
  it('decode what they encode, field by field', () => {
    const m = sample();
    const back = decodeModel(concat(encodeModel(m)));
    const { graph, ...head } = back;
    const { graph: g0, ...head0 } = m;
    expect(head).toEqual(head0);
    expect(graph.name).toBe(g0.name);
    expect(graph.docString).toBe(g0.docString);
    expect(graph.inputs).toEqual(g0.inputs);
    expect(graph.outputs).toEqual(g0.outputs);
    const [node] = graph.nodes;
    expect({ ...node, attributes: [] }).toEqual({ ...g0.nodes[0], attributes: [] });
    const byName = Object.fromEntries(node.attributes.map((a) => [a.name, a]));
    expect(byName.axis).toMatchObject({ type: AT_INT, i: -1 });
    expect(byName.alpha).toMatchObject({ type: AT_FLOAT, f: 0.5 });
    expect(byName.pads).toMatchObject({ type: AT_INTS, ints: [0, 1, 2, 3] });
    expect(new TextDecoder().decode(byName.mode.s)).toBe('constant');
    expect(byName.scales.floats).toEqual([1.5, 2]);
    expect(byName.names.strings.map((s) => new TextDecoder().decode(s))).toEqual(['a', 'bc']);
    expect(byName.value.t && tensorInts(byName.value.t)).toEqual([5, -6]);
    const inits = Object.fromEntries(graph.initializers.map((t) => [t.name, t]));
    expect(Array.from(tensorFloats(inits.w))).toEqual(Array.from(Float32Array.from([1, -2, 3.5, 0, 1e-3, -7])));
    expect(inits.w.dims).toEqual([2, 3]);
    expect(Array.from(tensorFloats(inits.packed))).toEqual([0.25, -4]);
    expect(tensorInts(inits.i32)).toEqual([1, -1, 70000]);
    expect(tensorInts(inits.shape)).toEqual([1, -1]);
  });

  it('keep raw tensor data as a view into the file', () => {
    const buf = concat(encodeModel(sample()));
    const w = decodeModel(buf).graph.initializers.find((t) => t.name === 'w');
    expect(w?.raw?.buffer).toBe(buf.buffer);
  });

  it('refuse bytes that hold no graph, and truncated files', () => {
    expect(() => decodeModel(concat(new Msg().int(1, 7).chunks()))).toThrow(/no graph in the file/);
    const buf = concat(encodeModel(sample()));
    expect(() => decodeModel(buf.subarray(0, buf.length - 5))).toThrow(ProtoError);
  });
});
