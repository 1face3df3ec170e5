/**
 * The trainers behind the sample models, in plain TypeScript, deterministic for a seed:
 * binary logistic regression and softmax regression by full-batch gradient descent with
 * L2, and a one-hidden-layer ReLU network by mini-batch SGD with momentum.
 */
import { SeededRandom } from '../src/sample-data/random.js'

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

export interface LogisticModel {
  readonly weights: number[]
  readonly bias: number
}

export interface LogisticParameters {
  readonly epochs: number
  readonly learning_rate: number
  readonly l2: number
}

export function trainLogistic(x: readonly number[][], y: readonly number[], p: LogisticParameters): LogisticModel {
  const n = x.length
  const d = x[0].length
  const w = new Array<number>(d).fill(0)
  let b = 0
  for (let epoch = 0; epoch < p.epochs; epoch++) {
    const gw = new Array<number>(d).fill(0)
    let gb = 0
    for (let i = 0; i < n; i++) {
      const row = x[i]
      let z = b
      for (let j = 0; j < d; j++) z += w[j] * row[j]
      const err = sigmoid(z) - y[i]
      for (let j = 0; j < d; j++) gw[j] += err * row[j]
      gb += err
    }
    for (let j = 0; j < d; j++) w[j] -= p.learning_rate * (gw[j] / n + p.l2 * w[j])
    b -= p.learning_rate * (gb / n)
  }
  return { weights: w, bias: b }
}

export interface SoftmaxModel {
  /** [features][classes] */
  readonly weights: number[][]
  readonly bias: number[]
}

export function trainSoftmax(x: readonly number[][], y: readonly number[], classes: number, p: LogisticParameters): SoftmaxModel {
  const n = x.length
  const d = x[0].length
  const w = Array.from({ length: d }, () => new Array<number>(classes).fill(0))
  const b = new Array<number>(classes).fill(0)
  for (let epoch = 0; epoch < p.epochs; epoch++) {
    const gw = Array.from({ length: d }, () => new Array<number>(classes).fill(0))
    const gb = new Array<number>(classes).fill(0)
    for (let i = 0; i < n; i++) {
      const probs = softmaxRow(x[i], w, b)
      for (let k = 0; k < classes; k++) {
        const err = probs[k] - (y[i] === k ? 1 : 0)
        gb[k] += err
        for (let j = 0; j < d; j++) gw[j][k] += err * x[i][j]
      }
    }
    for (let j = 0; j < d; j++) for (let k = 0; k < classes; k++) w[j][k] -= p.learning_rate * (gw[j][k] / n + p.l2 * w[j][k])
    for (let k = 0; k < classes; k++) b[k] -= p.learning_rate * (gb[k] / n)
  }
  return { weights: w, bias: b }
}

function softmaxRow(row: readonly number[], w: readonly number[][], b: readonly number[]): number[] {
  const z = b.map((bk, k) => row.reduce((s, v, j) => s + v * w[j][k], bk))
  const max = Math.max(...z)
  const e = z.map((v) => Math.exp(v - max))
  const sum = e.reduce((a, c) => a + c, 0)
  return e.map((v) => v / sum)
}

export interface MlpModel {
  /** [inputs][hidden] */
  readonly w1: number[][]
  readonly b1: number[]
  /** [hidden] */
  readonly w2: number[]
  readonly b2: number
}

export interface MlpParameters {
  readonly hidden: number
  readonly epochs: number
  readonly batch_size: number
  readonly learning_rate: number
  readonly momentum: number
  readonly l2: number
  readonly seed: number
}

export function trainMlp(x: readonly number[][], y: readonly number[], p: MlpParameters): MlpModel {
  const rng = new SeededRandom(p.seed)
  const d = x[0].length
  const h = p.hidden
  const he = Math.sqrt(2 / d) // He initialisation for ReLU
  const w1 = Array.from({ length: d }, () => Array.from({ length: h }, () => rng.normal(0, he)))
  const b1 = new Array<number>(h).fill(0)
  const w2 = Array.from({ length: h }, () => rng.normal(0, Math.sqrt(1 / h)))
  let b2 = 0
  const v1 = Array.from({ length: d }, () => new Array<number>(h).fill(0))
  const vb1 = new Array<number>(h).fill(0)
  const v2 = new Array<number>(h).fill(0)
  let vb2 = 0
  const order = Array.from({ length: x.length }, (_, i) => i)
  const hidden = new Array<number>(h)
  for (let epoch = 0; epoch < p.epochs; epoch++) {
    rng.shuffle(order)
    for (let start = 0; start < order.length; start += p.batch_size) {
      const batch = order.slice(start, start + p.batch_size)
      const g1 = Array.from({ length: d }, () => new Array<number>(h).fill(0))
      const gb1 = new Array<number>(h).fill(0)
      const g2 = new Array<number>(h).fill(0)
      let gb2 = 0
      for (const i of batch) {
        const row = x[i]
        for (let k = 0; k < h; k++) {
          let z = b1[k]
          for (let j = 0; j < d; j++) z += row[j] * w1[j][k]
          hidden[k] = z > 0 ? z : 0
        }
        let out = b2
        for (let k = 0; k < h; k++) out += hidden[k] * w2[k]
        const err = sigmoid(out) - y[i]
        gb2 += err
        for (let k = 0; k < h; k++) {
          g2[k] += err * hidden[k]
          if (hidden[k] <= 0) continue
          const back = err * w2[k]
          gb1[k] += back
          for (let j = 0; j < d; j++) g1[j][k] += back * row[j]
        }
      }
      const m = batch.length
      for (let k = 0; k < h; k++) {
        v2[k] = p.momentum * v2[k] - p.learning_rate * (g2[k] / m + p.l2 * w2[k])
        w2[k] += v2[k]
        vb1[k] = p.momentum * vb1[k] - p.learning_rate * (gb1[k] / m)
        b1[k] += vb1[k]
        for (let j = 0; j < d; j++) {
          v1[j][k] = p.momentum * v1[j][k] - p.learning_rate * (g1[j][k] / m + p.l2 * w1[j][k])
          w1[j][k] += v1[j][k]
        }
      }
      vb2 = p.momentum * vb2 - p.learning_rate * (gb2 / m)
      b2 += vb2
    }
  }
  return { w1, b1, w2, b2 }
}
