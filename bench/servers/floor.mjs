// The floor: bare node:http answering a fixed JSON to any request, after reading its body.
// Every gateway figure in bench/ is a ratio to this server measured in the same run.
import { createServer } from 'node:http'

const port = Number(process.argv[2] ?? 0)
const body = JSON.stringify({ model: 'floor', version: '1', predictions: [{ id: '0190c6f2-9b1e-7000-8000-000000000000', label: 0, probability: 0.1234567 }] })
const server = createServer((req, res) => {
  req.on('data', () => {})
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.listen(port, '127.0.0.1', () => process.send?.({ port: server.address().port }))
