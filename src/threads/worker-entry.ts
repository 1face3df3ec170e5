/**
 * Starting a worker thread on one of our modules. Built code runs `<name>.js` directly.
 * Tests and `tsx` run the TypeScript sources: there the worker first registers tsx's
 * loader (a dev dependency), then imports `<name>.ts` (Node 20 does not apply an
 * `--import` loader to a worker's own entry file).
 */
import { Worker } from 'node:worker_threads'
import type { WorkerOptions } from 'node:worker_threads'

export function startWorker(name: string, fromUrl: string, options: WorkerOptions = {}): Worker {
  if (!fromUrl.endsWith('.ts')) return new Worker(new URL(`${name}.js`, fromUrl), options)
  const entry = new URL(`${name}.ts`, fromUrl).href
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(bootstrap, { ...options, eval: true })
}
