/**
 * Starting a worker thread on one of our modules. Built code runs `<name>.js` directly.
 * Tests and `tsx` run the TypeScript sources: there the worker first registers tsx's
 * loader (a dev dependency), then imports `<name>.ts` (Node 20 does not apply an
 * `--import` loader to a worker's own entry file).
 */
import { execFileSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { WorkerOptions } from 'node:worker_threads'

export function startWorker(name: string, fromUrl: string, options: WorkerOptions = {}): Worker {
  if (!fromUrl.endsWith('.ts')) return new Worker(new URL(`${name}.js`, fromUrl), options)
  const entry = new URL(`${name}.ts`, fromUrl).href
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(bootstrap, { ...options, eval: true })
}

/**
 * Let the calling worker thread run only when the request thread and everything else at
 * normal priority leave a core free: Linux's SCHED_IDLE, set with `chrt` (util-linux, on every
 * Debian system and in the node images), else nice 19, the lowest priority. The inference log's
 * writer and the mirror worker do work that can wait a few milliseconds; on a machine whose
 * cores are all busy, running them at the request thread's priority took its time slices
 * (nice 19 helped little: nice still shares by weight, SCHED_IDLE does not preempt). Returns
 * what was set, for the log.
 */
export function runOnlyWhenIdle(): string {
  let tid: number
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop()) // this thread's id (Linux)
  } catch {
    return 'unchanged: no /proc/thread-self'
  }
  try {
    execFileSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 2_000 })
    return 'SCHED_IDLE'
  } catch { /* no chrt: the nice value instead */ }
  try {
    setPriority(tid, 19)
    return 'nice 19'
  } catch {
    return 'unchanged'
  }
}
