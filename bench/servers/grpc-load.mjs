// The gRPC load of the heavy-model bench (bench/heavy.ts), in a process of its own (autocannon's
// part for HTTP): CONNECTIONS calls in flight on one HTTP/2 connection, each a ModelInfer of one
// image as raw_input_contents (what Triton's and KServe's clients send), for a given time.
// The message is encoded once from the repository's proto (@grpc/proto-loader's serializer) and
// sent as gRPC frames over node:http2, as autocannon sends prebuilt HTTP requests: on the CNN's
// image, @grpc/grpc-js's own client spent 1.44 ms of CPU a call here and this one 0.56 ms, and
// the load generator shares its core with the gateway's request thread.
// Every answer's grpc-status is checked.
//   node grpc-load.mjs ADDRESS MODEL INPUT CONNECTIONS D1,D2,...   then {seconds} → {rate, failed}
import { connect, constants } from 'node:http2'
import { loadSync } from '@grpc/proto-loader'

const [address, model, input, connections, dims] = process.argv.slice(2)
const shape = dims.split(',').map(Number)
const proto = loadSync(new URL('../../proto/open_inference_grpc.proto', import.meta.url).pathname, { keepCase: true, longs: String, oneofs: true })
const modelInfer = proto['inference.GRPCInferenceService'].ModelInfer
const image = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i) * 0.5 + 0.5)
const message = modelInfer.requestSerialize({ model_name: model, model_version: '1', inputs: [{ name: input, datatype: 'FP32', shape }], raw_input_contents: [Buffer.from(image.buffer)] })
const frame = Buffer.alloc(5 + message.length) // gRPC's length-prefixed message: not compressed, 4-byte big-endian length
frame.writeUInt32BE(message.length, 1)
message.copy(frame, 5)
const headers = {
  [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: modelInfer.path,
  'content-type': 'application/grpc', te: 'trailers',
}
const session = connect(`http://${address}`)

/** One call: true when it ended with grpc-status 0 and an answer. */
function infer() {
  return new Promise((resolve) => {
    const stream = session.request(headers)
    let bytes = 0
    let status = null
    stream.on('response', (h) => { if (h['grpc-status'] !== undefined) status = h['grpc-status'] }) // a trailers-only error
    stream.on('trailers', (t) => { status = t['grpc-status'] })
    stream.on('data', (chunk) => { bytes += chunk.length })
    stream.on('close', () => resolve(status === '0' && bytes > 5))
    stream.on('error', () => undefined) // 'close' follows and resolves false
    stream.end(frame)
  })
}

process.on('message', async ({ seconds }) => {
  const until = performance.now() + seconds * 1000
  let done = 0
  let failed = 0
  await Promise.all(Array.from({ length: Number(connections) }, async () => {
    while (performance.now() < until) {
      if (await infer()) done++
      else failed++
    }
  }))
  process.send({ rate: done / seconds, failed })
})
for (let i = 0; i < 20; i++) if (!(await infer())) throw new Error(`ModelInfer on ${address} failed`)
process.send({ ready: true })
