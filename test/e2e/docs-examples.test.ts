/**
 * Issue #13: every example in README.md and docs/*.md that shows an output is run, in the
 * order a reader follows it, against a gateway started as `npm start` starts it (the sample
 * models and routes.yaml, in a folder of its own), and what it prints is compared with what
 * the page shows. See examples.ts for how a page's blocks are read and compared.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { examplesOf, matchesShown, prepareCommand } from './examples.js'
import { freePort } from './free-port.js'

const root = new URL('../..', import.meta.url).pathname
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

for (const page of pages) {
  const examples = examplesOf(readFileSync(join(root, page), 'utf8'))
  if (!examples.some((e) => e.shown !== null)) continue

  describe(page, () => {
    let dir: string
    let gateway: ChildProcess | null = null
    let gatewayOutput = ''
    let port = 0
    let grpcPort = 0
    const state = () => join(dir, 'exports.sh') // variables an example exports, for the ones after it

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'switchyard-docs-'))
      cpSync(join(root, 'models'), join(dir, 'models'), { recursive: true })
      cpSync(join(root, 'routes.yaml'), join(dir, 'routes.yaml'))
      writeFileSync(state(), '')
      port = await freePort()
      grpcPort = await freePort() // 8080 and 8081 on the page
      gateway = spawn(process.execPath, [join(root, 'dist/cli.js'), 'serve', '--port', String(port), '--grpc-port', String(grpcPort), '--host', '127.0.0.1'], { cwd: dir, env: cleanEnv() })
      gateway.stdout!.on('data', (c: Buffer) => (gatewayOutput += c.toString()))
      for (let i = 0; i < 300; i++) {
        if (await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.ok, () => false)) return
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error(`the gateway did not start: ${gatewayOutput}`)
    })

    afterAll(async () => {
      gateway?.kill('SIGTERM')
      await new Promise((r) => gateway?.once('exit', r))
      rmSync(dir, { recursive: true, force: true })
    })

    for (const example of examples) {
      const title = `line ${example.line}: ${example.command.split('\n')[0].slice(0, 70)}`
      it(example.shown === null ? `${title} (runs; shows no output)` : title, async () => {
        const { script, startsGateway } = prepareCommand(example.command, { root, port, grpcPort })
        let output: { stdout: string; stderr: string }
        if (script.trim() === '') {
          output = { stdout: startsGateway ? gatewayOutput : '', stderr: '' }
        } else {
          output = run(`set -e\nsource ${state()}\ntrap 'export -p > ${state()}' EXIT\n${script}`, dir, port)
        }
        if (example.shown === null) return
        const candidates = [output.stdout, output.stderr, output.stdout + output.stderr]
        const shown = example.shown.replaceAll('localhost:8080', `127.0.0.1:${port}`).replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)
        const matched = candidates.some((text) => matchesShown(shown, text, example.shownLang))
        expect(matched, `shown at ${page}:${example.line}:\n${example.shown}\nprinted:\n${output.stdout}${output.stderr}`).toBe(true)
      }, 120_000)
    }
  })
}

/** The caller's own SWITCHYARD_* settings must not change what the examples print. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHYARD_')))
}

function run(script: string, cwd: string, port: number): { stdout: string; stderr: string } {
  // a command that exits non-zero on purpose (validate on a bad file) still shows its output
  const result = spawnSync('bash', ['-c', script], {
    cwd, encoding: 'utf8', env: { ...cleanEnv(), SWITCHYARD_URL: `http://127.0.0.1:${port}` }, timeout: 110_000,
  })
  return { stdout: result.stdout, stderr: result.stderr }
}
