/**
 * Issue #13, point 6: a client that does not wait for `100-continue` (Python's urllib or
 * requests) sends its whole body before it reads. A body over `--max-body-bytes` must still
 * get its 413: the gateway reads and discards the rest of the body (a lingering close) instead
 * of closing the socket under the client, which saw a broken pipe. The linger is bounded, so a
 * client that sends more than the cap is cut off.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const MiB = 1024 * 1024
const BODY_BYTES = 64 * MiB // what the Python client sent
const WRITE_BYTES = 1 * MiB // one write
const FILLER = Buffer.alloc(WRITE_BYTES, 0x20) // spaces: the body is never parsed

let gw: Running
let port: number

beforeAll(async () => {
  gw = await startGateway() // the default limit, 1 MiB
  port = Number(new URL(gw.url).port)
})
afterAll(async () => gw.close())

interface Exchange {
  /** Body bytes written before the socket failed or the body was done. */
  readonly sentBytes: number
  /** The error a write got (EPIPE, ECONNRESET), or null when the whole body went out. */
  readonly writeError: NodeJS.ErrnoException | null
  /** Everything read after the sending stopped, up to the server's close. */
  readonly response: string
}

/**
 * The way the clients behave: write the head and `bodyBytes` of body (chunked when
 * `isChunked`) with nothing reading, and only then read until the server closes.
 */
async function sendWholeThenRead(bodyBytes: number, isChunked: boolean, path = '/v1/models/credit-risk/predict'): Promise<Exchange> {
  const socket = connect(port, '127.0.0.1')
  socket.pause() // no 'data' listener until the body is out
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const framing = isChunked ? 'transfer-encoding: chunked' : `content-length: ${bodyBytes}`
  let writeError: NodeJS.ErrnoException | null = null
  socket.on('error', (err) => { writeError ??= err })
  let sentBytes = 0
  try {
    await write(socket, `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`)
    while (sentBytes < bodyBytes && writeError === null) {
      await write(socket, isChunked ? Buffer.concat([Buffer.from(`${WRITE_BYTES.toString(16)}\r\n`), FILLER, Buffer.from('\r\n')]) : FILLER)
      sentBytes += WRITE_BYTES
    }
    if (isChunked && writeError === null) await write(socket, '0\r\n\r\n')
  } catch (err) {
    writeError ??= err as NodeJS.ErrnoException
  }
  const response = await readToClose(socket)
  return { sentBytes, writeError, response }
}

function write(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()))
  })
}

function readToClose(socket: Socket): Promise<string> {
  const chunks: Buffer[] = []
  return new Promise((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.resume()
  })
}

/** Status, lower-cased headers and body of one HTTP/1.1 answer; throws when it is cut short. */
function parseResponse(text: string): { status: number; headers: Record<string, string>; body: any } {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  const body = text.slice(end + 4)
  expect(body.length).toBe(Number(headers['content-length']))
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) }
}

describe('a body over --max-body-bytes sent whole before reading', () => {
  it.each([
    ['with Content-Length, 64 MiB: every byte is taken and the full 413 read', false],
    ['chunked, without Content-Length, 64 MiB: the same', true],
  ])('%s', async (_what, isChunked) => {
    const { sentBytes, writeError, response } = await sendWholeThenRead(BODY_BYTES, isChunked)
    expect(writeError?.code ?? null).toBeNull()
    expect(sentBytes).toBe(BODY_BYTES)
    const answer = parseResponse(response)
    expect(answer.status).toBe(413)
    expect(answer.headers.connection).toBe('close')
    expect(answer.body.code).toBe('BODY_TOO_LARGE')
  })

  // passed before the linger too: Express's body parser reads a refused body off before it errs
  it('on the control plane (ground truth, an Express body limit): the same', async () => {
    const { sentBytes, writeError, response } = await sendWholeThenRead(BODY_BYTES, false, '/v1/models/credit-risk/ground-truth')
    expect(writeError?.code ?? null).toBeNull()
    expect(sentBytes).toBe(BODY_BYTES)
    const answer = parseResponse(response)
    expect(answer.status).toBe(413)
    expect(answer.body.code).toBe('BODY_TOO_LARGE')
  })

  it('the gateway still answers on other connections afterwards', async () => {
    const res = await fetch(`${gw.url}/v2/health/live`)
    expect(res.status).toBe(200)
  })
})

describe('the linger is bounded', () => {
  it('a client sending far more than the linger cap (128 MiB) is cut off', async () => {
    const declared = 1024 * MiB
    const { sentBytes, writeError } = await sendWholeThenRead(declared, false)
    expect(writeError).not.toBeNull() // the socket was closed under it
    expect(sentBytes).toBeLessThan(declared)
  })

  it('a client that stops sending mid-body is closed after the linger time (5 s)', async () => {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    socket.on('error', () => {}) // a reset is a close too
    const closed = readToClose(socket)
    const started = Date.now()
    await write(socket, `POST /v1/models/credit-risk/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${BODY_BYTES}\r\n\r\n`)
    await write(socket, FILLER) // then nothing more
    const response = await closed
    expect(parseResponse(response).status).toBe(413)
    expect(Date.now() - started).toBeLessThan(20_000) // 5 s of linger, the rest a busy machine's slack
  })
})
