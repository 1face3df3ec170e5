/** Held-out metrics of a classifier, measured on the outputs of the exported ONNX file. */

/** Area under the ROC curve by the rank statistic (ties share their average rank). */
export function auc(labels: readonly number[], scores: readonly number[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0])
  const ranks = new Array<number>(scores.length)
  for (let i = 0; i < order.length; ) {
    let j = i
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++
    for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2 + 1
    i = j + 1
  }
  const positives = labels.filter((l) => l === 1).length
  const negatives = labels.length - positives
  const rankSum = labels.reduce((s, l, i) => (l === 1 ? s + ranks[i] : s), 0)
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

export function logLoss(labels: readonly number[], probabilities: readonly number[]): number {
  const eps = 1e-7
  return -labels.reduce((s, l, i) => {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]))
    return s + (l === 1 ? Math.log(p) : Math.log(1 - p))
  }, 0) / labels.length
}

export function binaryMetrics(labels: readonly number[], probabilities: readonly number[], predicted: readonly number[]) {
  let tp = 0
  let fp = 0
  let fn = 0
  let correct = 0
  for (let i = 0; i < labels.length; i++) {
    if (predicted[i] === labels[i]) correct++
    if (predicted[i] === 1 && labels[i] === 1) tp++
    if (predicted[i] === 1 && labels[i] === 0) fp++
    if (predicted[i] === 0 && labels[i] === 1) fn++
  }
  return round4({
    auc: auc(labels, probabilities),
    accuracy: correct / labels.length,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    log_loss: logLoss(labels, probabilities),
  })
}

export function multiclassMetrics(labels: readonly number[], probabilities: readonly number[][], predicted: readonly number[]) {
  const eps = 1e-7
  const accuracy = labels.filter((l, i) => predicted[i] === l).length / labels.length
  const loss = -labels.reduce((s, l, i) => s + Math.log(Math.max(eps, probabilities[i][l])), 0) / labels.length
  return round4({ accuracy, log_loss: loss })
}

function round4<T extends Record<string, number>>(m: T): T {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v * 10_000) / 10_000])) as T
}
