import ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { GraphBuilder } from './model-writer.js'

describe('ONNX model writer', () => {
  it('writes a model that onnxruntime loads and runs, for float, int64 and string tensors', async () => {
    const g = new GraphBuilder('t')
      .input('x', 'float32', ['N', 2]).initializer('one', 'float32', [], [1.5]).node('Add', ['x', 'one'], ['y']).output('y', 'float32', ['N', 2])
      .input('i', 'int64', ['N']).initializer('two', 'int64', [], [2]).node('Mul', ['i', 'two'], ['i2']).output('i2', 'int64', ['N'])
      .input('s', 'string', ['N']).node('Identity', ['s'], ['s2']).output('s2', 'string', ['N'])
    const session = await ort.InferenceSession.create(g.encode())
    const out = await session.run({
      x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]),
      i: new ort.Tensor('int64', new BigInt64Array([21n, -4n]), [2]),
      s: new ort.Tensor('string', ['héllo', ''], [2]),
    })
    expect(Array.from(out.y.data as Float32Array)).toEqual([2.5, 3.5, 4.5, 5.5])
    expect(Array.from(out.i2.data as BigInt64Array)).toEqual([42n, -8n])
    expect(out.s2.data).toEqual(['héllo', ''])
    expect(session.inputMetadata.map((m) => (m.isTensor ? m.shape : null))).toEqual([['N', 2], ['N'], ['N']])
    await session.release()
  })

  it('writes the same bytes for the same graph', () => {
    const make = () => new GraphBuilder('g').input('a', 'float32', [3]).node('Relu', ['a'], ['b']).output('b', 'float32', [3]).encode({ metadata: { k: 'v' } })
    expect(Buffer.from(make()).equals(Buffer.from(make()))).toBe(true)
  })
})
