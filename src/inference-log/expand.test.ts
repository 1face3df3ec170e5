import { describe, expect, it } from 'vitest'
import type { InferenceEvent } from './event.js'
import { expandEvent } from './expand.js'
import { recordIdOf } from '../inference-id.js'
import { hashValue } from './privacy.js'

const BOOT = '0123456789ab'

const base: InferenceEvent = {
  kind: 'predict', ids: ['a', 'b'], serverTs: 2_000, callerTs: null, model: 'm', version: 'v1', route: 'm', reason: 'split',
  role: 'primary', stickyHash: null, revision: 4, latencyMs: 1.5, status: 200, errorCode: null,
  body: JSON.stringify({ instances: [{ id: 'a', age: 30, income: 10 }, { age: 40, income: 20 }], attributes: { region: 'eu' } }),
  answer: JSON.stringify({ model: 'm', predictions: [{ id: 'a', label: 1 }, { id: 'b', label: 0 }] }),
  attributes: '{"region":"eu"}', firstSeq: 41,
}

describe('expandEvent', () => {
  it('makes one record a native row, pairing each row\'s inputs with its prediction, without the ids', () => {
    const rows = expandEvent(base, { privacy: undefined, hashKey: null, bootId: BOOT })
    expect(rows.map((r) => [r.inference_id, JSON.parse(r.inputs!), JSON.parse(r.outputs!)])).toEqual([
      ['a', { age: 30, income: 10 }, { label: 1 }],
      ['b', { age: 40, income: 20 }, { label: 0 }],
    ])
    // record ids from the event's numbering: the same event expanded again (replayed) gives the same ids
    expect(rows.map((r) => r.record_id)).toEqual([recordIdOf(2_000, 41, BOOT), recordIdOf(2_000, 42, BOOT)])
    expect(expandEvent(base, { privacy: undefined, hashKey: null, bootId: BOOT }).map((r) => r.record_id)).toEqual(rows.map((r) => r.record_id))
    expect(rows[0]).toMatchObject({ ts: 2_000, server_ts: 2_000, revision: 4, attributes: '{"region":"eu"}' })
  })

  it('takes the caller\'s timestamp when there is one', () => {
    expect(expandEvent({ ...base, callerTs: 1_000 }, { privacy: undefined, hashKey: null, bootId: BOOT })[0]).toMatchObject({ ts: 1_000, server_ts: 2_000 })
  })

  it('drops and hashes private fields of native rows and of V2 tensors', () => {
    const privacy = { drop: ['age'], hash: ['income'] }
    const [row] = expandEvent(base, { privacy, hashKey: 'k', bootId: BOOT })
    expect(JSON.parse(row.inputs!)).toEqual({ income: hashValue(10, 'k') })
    expect(hashValue(10, 'k')).not.toBe(hashValue(10, 'other key'))
    expect(hashValue(10, null)).toMatch(/^sha256:[0-9a-f]{64}$/)
    const v2: InferenceEvent = {
      ...base, kind: 'infer', ids: ['r'],
      body: JSON.stringify({ inputs: [{ name: 'age', datatype: 'FP32', shape: [1], data: [30] }, { name: 'income', datatype: 'FP32', shape: [1], data: [10] }, { name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }),
      answer: JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: [0.5] }] }),
    }
    const [tensorRow] = expandEvent(v2, { privacy, hashKey: 'k', bootId: BOOT })
    expect(JSON.parse(tensorRow.inputs!)).toEqual([
      { name: 'income', datatype: 'FP32', shape: [1], data: hashValue([10], 'k') },
      { name: 'x', datatype: 'FP32', shape: [1], data: [1] },
    ])
    expect(JSON.parse(tensorRow.outputs!)).toEqual([{ name: 'y', datatype: 'FP32', shape: [1], data: [0.5] }])
  })

  it('keeps a failed inference as records without outputs', () => {
    const rows = expandEvent({ ...base, answer: null, status: 500, errorCode: 'INFERENCE_FAILED' }, { privacy: undefined, hashKey: null, bootId: BOOT })
    expect(rows.map((r) => [r.outputs, r.status, r.error_code])).toEqual([[null, 500, 'INFERENCE_FAILED'], [null, 500, 'INFERENCE_FAILED']])
  })

  it('stores a one-record body\'s record as sent, and parses every other shape, to the same values', () => {
    const one = (body: string) => expandEvent({ ...base, ids: ['a'], body }, { privacy: undefined, hashKey: null, bootId: BOOT })[0].inputs
    const record = '{"age":30,"income":1.50,"city":"Ghent"}'
    expect(one(`{"instances":[${record}]}`)).toBe(record) // as sent: 1.50 stays 1.50
    // other shapes are parsed: spaces, an id (dropped), escapes, nesting, other keys
    expect(JSON.parse(one(`{ "instances": [${record}] }`)!)).toEqual({ age: 30, income: 1.5, city: 'Ghent' })
    expect(JSON.parse(one('{"instances":[{"id":"a","age":30}]}')!)).toEqual({ age: 30 })
    expect(JSON.parse(one('{"instances":[{"\\u0069d":"a","age":30}]}')!)).toEqual({ age: 30 })
    expect(JSON.parse(one('{"instances":[{"tags":["x"],"age":30}]}')!)).toEqual({ tags: ['x'], age: 30 })
    expect(JSON.parse(one('{"instances":[{"age":30}],"timestamp":5}')!)).toEqual({ age: 30 })
    // privacy rules always take the parsing path
    const hidden = expandEvent({ ...base, ids: ['a'], body: `{"instances":[${record}]}` }, { privacy: { drop: ['city'], hash: [] }, hashKey: null, bootId: BOOT })[0]
    expect(JSON.parse(hidden.inputs!)).toEqual({ age: 30, income: 1.5 })
  })
})

describe('a one-row native answer', () => {
  it('gives its outputs as written, without the id, for string and number ids, and the same label and score as parsing would', () => {
    const body = '{"instances":[{"age":30}]}'
    for (const [id, idJson] of [['x"y\\z', JSON.stringify('x"y\\z')], [7, '7']] as const) {
      const answer = `{"model":"m","version":"v1","role":"direct","predictions":[{"id":${idJson},"label":1,"probability":0.25}]}`
      const [row] = expandEvent({ ...base, ids: [id], body, answer }, { privacy: undefined, hashKey: null, bootId: BOOT })
      expect(row.outputs).toBe('{"label":1,"probability":0.25}')
      expect(row).toMatchObject({ predicted_label: '1', score: 0.25, inputs: '{"age":30}' })
    }
  })
})

describe('a TF Serving record', () => {
  const tf = (body: unknown, answer: unknown, privacy?: { drop: string[]; hash: string[] }) =>
    expandEvent({ ...base, kind: 'tf-predict', ids: ['t'], body: JSON.stringify(body), answer: JSON.stringify(answer) }, { privacy, hashKey: 'k', bootId: BOOT })

  it('is one record a request: the instances or inputs as sent, the answer, and one instance\'s label and score', () => {
    const [row] = tf({ signature_name: 'serving_default', instances: [[1, 2]] }, { predictions: [{ label: 1, probability: 0.75 }] })
    expect(row).toMatchObject({ inference_id: 't', predicted_label: '1', score: 0.75 })
    expect(JSON.parse(row.inputs!)).toEqual({ instances: [[1, 2]] })
    expect(JSON.parse(row.outputs!)).toEqual({ predictions: [{ label: 1, probability: 0.75 }] })
    const [column] = tf({ inputs: { x: [[1, 2]] } }, { outputs: { label: [2], probabilities: [[0.1, 0.2, 0.7]] } })
    expect(column).toMatchObject({ predicted_label: '2', score: 0.7 })
    expect(JSON.parse(column.inputs!)).toEqual({ inputs: { x: [[1, 2]] } })
    // several instances, or one bare output: no single label
    expect(tf({ instances: [[1], [2]] }, { predictions: [{ label: 1 }, { label: 0 }] })[0].predicted_label).toBeNull()
    expect(tf({ instances: [[1]] }, { predictions: [0.5] })[0]).toMatchObject({ predicted_label: null, score: null })
  })

  it('applies the privacy rules to named inputs, and keeps no bare inputs when the model has rules', () => {
    const privacy = { drop: ['secret'], hash: ['age'] }
    expect(JSON.parse(tf({ instances: [{ secret: 1, age: 30, x: 2 }] }, { predictions: [0] }, privacy)[0].inputs!)).toEqual({ instances: [{ age: hashValue(30, 'k'), x: 2 }] })
    expect(JSON.parse(tf({ inputs: { secret: [1], x: [2] } }, { outputs: [0] }, privacy)[0].inputs!)).toEqual({ inputs: { x: [2] } })
    expect(tf({ instances: [[1, 2]] }, { predictions: [0] }, privacy)[0].inputs).toBeNull()
  })
})
