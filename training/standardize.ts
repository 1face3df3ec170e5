/** Column means and standard deviations of a training matrix, and the standardised copy. */
export interface Scaler {
  readonly mean: number[]
  readonly std: number[]
}

export function fitScaler(x: readonly number[][]): Scaler {
  const cols = x[0].length
  const mean = new Array<number>(cols).fill(0)
  const std = new Array<number>(cols).fill(0)
  for (const row of x) for (let j = 0; j < cols; j++) mean[j] += row[j] / x.length
  for (const row of x) for (let j = 0; j < cols; j++) std[j] += (row[j] - mean[j]) ** 2 / x.length
  // float32, as the graph holds them: the model computes with exactly these constants
  return { mean: mean.map(Math.fround), std: std.map((s) => Math.fround(Math.sqrt(s) || 1)) }
}

export function standardize(x: readonly number[][], s: Scaler): number[][] {
  return x.map((row) => row.map((v, j) => (v - s.mean[j]) / s.std[j]))
}
