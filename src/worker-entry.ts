/**
 * Starting a worker thread on one of our modules. Built code runs `<name>.js` directly.
 * Tests and `tsx` run the TypeScript sources: there the worker first registers tsx's
 * loader (a dev dependency), then imports `<name>.ts` (Node 20 does not apply an
 * `--import` loader to a worker's own entry file).
 */
import { execFile, execFileSync } from 'node:child_process'
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
 * the thread's kernel id (for restoreNormalPriority) and what was set, for the log.
 */
export function runOnlyWhenIdle(): { tid: number | null; priority: string } {
  const tid = currentThreadId()
  if (tid === null) return { tid, priority: 'unchanged: no /proc/thread-self' }
  try {
    execFileSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 2_000 })
    return { tid, priority: 'SCHED_IDLE' }
  } catch { /* no chrt: the nice value instead */ }
  try {
    setPriority(tid, 19)
    return { tid, priority: 'nice 19' }
  } catch {
    return { tid, priority: 'unchanged' }
  }
}

/**
 * Put thread `tid` (one that called runOnlyWhenIdle) back at the normal priority, for work that
 * must finish now: the inference log's last records when the gateway stops. An idle thread on a
 * machine whose cores are busy gets almost no time (SCHED_IDLE's weight is 3 against 1,024),
 * so this runs from the calling thread, which has normal priority, not from the idle one. Linux
 * lets only a privileged process (root, or CAP_SYS_NICE) raise a priority: elsewhere `done`
 * gets the reason, and the thread stays where it was.
 */
export function restoreNormalPriority(lowered: { tid: number | null; priority: string }, done: (err: Error | null) => void): void {
  const { tid, priority } = lowered
  if (tid === null || priority.startsWith('unchanged')) return done(null)
  if (priority === 'nice 19') {
    try {
      setPriority(tid, 0)
      return done(null)
    } catch (err) {
      return done(err as Error)
    }
  }
  execFile('chrt', ['--other', '-p', '0', String(tid)], { timeout: 2_000 }, (err) => done(err))
}

/** This thread's id in the kernel (Linux), or null elsewhere. */
function currentThreadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop())
  } catch {
    return null
  }
}
