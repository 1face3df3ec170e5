/**
 * Reading a V2 request or answer that carries binary tensor data (the binary extension), on
 * the store worker: its JSON header, and each binary tensor's bytes turned into the JSON data
 * a V2 record stores, so that a record reads the same whichever way its tensors travelled.
 * The request thread only copied the bytes.
 */
import { bfloatToFloat, halfToFloat, typedArrayOf } from '../runtime/datatypes.js'

/** Where the JSON object at the start of `text` ends (the binary data follows it). */
export function jsonHeaderEnd(text: string): number {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash: skip what it escapes
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return text.length
}

/**
 * The header's object with every tensor of `listKey` ('inputs' or 'outputs') given its `data`
 * from the binary part; `latin1` holds the bytes a character each. Null when the header is not JSON.
 */
export function tensorsWithData(latin1: string, listKey: 'inputs' | 'outputs'): Record<string, unknown>[] | null {
  const end = jsonHeaderEnd(latin1)
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(latin1.slice(0, end), 'latin1').toString('utf8'))
  } catch {
    return null
  }
  const list = (header as Record<string, unknown> | null)?.[listKey]
  if (!Array.isArray(list)) return null
  const binary = Buffer.from(latin1.slice(end), 'latin1')
  let at = 0
  return list.map((tensor: Record<string, unknown>) => {
    const size = (tensor.parameters as Record<string, unknown> | undefined)?.binary_data_size
    if (typeof size !== 'number') return tensor
    const bytes = binary.subarray(at, at + size)
    at += size
    const { parameters, ...rest } = tensor
    const others = Object.fromEntries(Object.entries(parameters as Record<string, unknown>).filter(([k]) => k !== 'binary_data_size'))
    return { ...rest, ...(Object.keys(others).length > 0 ? { parameters: others } : {}), data: valuesOf(bytes, String(tensor.datatype)) }
  })
}

function valuesOf(bytes: Buffer, datatype: string): unknown[] {
  if (datatype === 'BYTES') {
    const out: string[] = []
    for (let at = 0; at + 4 <= bytes.length;) {
      const n = bytes.readUInt32LE(at)
      out.push(bytes.toString('utf8', at + 4, at + 4 + n))
      at += 4 + n
    }
    return out
  }
  const elements = typedArrayOf(datatype, new Uint8Array(bytes).buffer) // a copy at offset 0: typed arrays need alignment
  if (elements === undefined) return []
  if (datatype === 'BOOL') return Array.from(elements, (b) => b !== 0)
  if (datatype === 'FP16') return Array.from(elements as Uint16Array, halfToFloat)
  if (datatype === 'BF16') return Array.from(elements as Uint16Array, bfloatToFloat)
  // as a V2 JSON record keeps them: 64-bit integers as numbers while exact, else as text
  return Array.from(elements, (v) => (typeof v !== 'bigint' ? v : Number.isSafeInteger(Number(v)) ? Number(v) : String(v)))
}
