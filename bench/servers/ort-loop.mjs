// onnxruntime's own loop: the reference of the heavy-model scenarios (bench/heavy.ts). One
// session with the gateway's options (src/runtime/session.ts), one image a run, as fast as it
// goes, in a process of its own. Asked {seconds}, it answers {rate} after running that long.
import ort from 'onnxruntime-node'

const [modelPath, ...shape] = process.argv.slice(2)
const dims = shape.map(Number)
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
})
const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i) * 0.5 + 0.5)
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) }
for (let i = 0; i < 20; i++) await session.run(feeds) // warm
process.on('message', async ({ seconds }) => {
  const until = performance.now() + seconds * 1000
  let runs = 0
  while (performance.now() < until) {
    await session.run(feeds)
    runs++
  }
  process.send({ rate: runs / seconds })
})
process.send({ ready: true })
