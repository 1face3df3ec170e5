#!/usr/bin/env node
/**
 * A gRPC client of the Open Inference Protocol in a few lines, built from
 * proto/open_inference_grpc.proto with @grpc/grpc-js and @grpc/proto-loader (what
 * docs/models.md runs; any client generated from that proto, or Triton's, works the same).
 *
 *   node scripts/grpc-infer.mjs ADDRESS RPC [REQUEST_JSON]
 *   node scripts/grpc-infer.mjs 127.0.0.1:8081 ModelInfer '{"model_name":"iris","inputs":[…]}'
 *
 * Prints the answer as JSON (bytes as base64). SWITCHYARD_TOKEN, when set, is sent as the
 * bearer token (--predict-auth).
 */
import { credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'

const [address, rpc, request = '{}'] = process.argv.slice(2)
if (address === undefined || rpc === undefined) {
  process.stderr.write('usage: node scripts/grpc-infer.mjs ADDRESS RPC [REQUEST_JSON]\n')
  process.exit(2)
}
const proto = loadSync(new URL('../proto/open_inference_grpc.proto', import.meta.url).pathname, { keepCase: true, longs: String, oneofs: true })
const { inference } = loadPackageDefinition(proto)
const client = new inference.GRPCInferenceService(address, credentials.createInsecure())
const metadata = new Metadata()
if (process.env.SWITCHYARD_TOKEN) metadata.set('authorization', `Bearer ${process.env.SWITCHYARD_TOKEN}`)
client[rpc](JSON.parse(request), metadata, (err, answer) => {
  client.close()
  if (err) {
    process.stderr.write(`${err.message} (${err.metadata.get('x-error-code')[0] ?? 'no code'})\n`)
    process.exit(1)
  }
  process.stdout.write(`${JSON.stringify(answer, (_key, value) => (value?.type === 'Buffer' ? Buffer.from(value.data).toString('base64') : value))}\n`)
})
