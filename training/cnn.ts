/**
 * A compute-heavy image model for the benchmark and the tests of large tensors (issue #16):
 * a small convolutional network on [N, 3, 64, 64] FP32 images, ten classes, weights drawn from
 * a seed (its answers mean nothing; what counts is that a run costs what a real CNN of its
 * size costs, about 41 million multiply-adds). Deterministic: the same seed gives the same bytes.
 *
 *   [N,3,64,64] ─Conv 3→32 3x3─ReLU─MaxPool 2─ [N,32,32,32] ─Conv 32→64─ReLU─MaxPool 2─
 *   [N,64,16,16] ─Conv 64→128─ReLU─ GlobalAveragePool ─ Flatten [N,128] ─Gemm 128→10─ Softmax ─ probabilities [N,10]
 */
import { SeededRandom } from '../src/sample-data/random.js'
import { GraphBuilder } from './onnx/model-writer.js'

export const CNN_INPUT = 'image'
export const CNN_OUTPUT = 'probabilities'
export const CNN_IMAGE_SHAPE = [3, 64, 64] as const
export const CNN_CLASSES = 10

export function buildCnn(seed = 16): Uint8Array {
  const random = new SeededRandom(seed)
  const g = new GraphBuilder('image-cnn')
  g.input(CNN_INPUT, 'float32', ['N', ...CNN_IMAGE_SHAPE])
  /** He-initialised weights: activations keep their scale through the layers. */
  const weights = (name: string, dims: number[], fanIn: number) =>
    g.initializer(name, 'float32', dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random.normal(0, Math.sqrt(2 / fanIn))))
  const zeros = (name: string, n: number) => g.initializer(name, 'float32', [n], Array(n).fill(0))
  let x = CNN_INPUT
  let channels: number = CNN_IMAGE_SHAPE[0]
  for (const [k, out] of [32, 64, 128].entries()) {
    weights(`conv${k}_w`, [out, channels, 3, 3], channels * 9)
    zeros(`conv${k}_b`, out)
    g.node('Conv', [x, `conv${k}_w`, `conv${k}_b`], [`conv${k}`], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })
    g.node('Relu', [`conv${k}`], [`relu${k}`])
    x = `relu${k}`
    if (k < 2) {
      g.node('MaxPool', [x], [`pool${k}`], { kernel_shape: [2, 2], strides: [2, 2] })
      x = `pool${k}`
    }
    channels = out
  }
  g.node('GlobalAveragePool', [x], ['gap'])
  g.node('Flatten', ['gap'], ['flat'], { axis: 1 })
  weights('fc_w', [channels, CNN_CLASSES], channels)
  zeros('fc_b', CNN_CLASSES)
  g.node('Gemm', ['flat', 'fc_w', 'fc_b'], ['logits'])
  g.node('Softmax', ['logits'], [CNN_OUTPUT], { axis: 1 })
  g.output(CNN_OUTPUT, 'float32', ['N', CNN_CLASSES])
  return g.encode({ docString: 'a convolutional network with seeded random weights, for benchmarks (training/cnn.ts)' })
}
