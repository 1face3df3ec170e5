/**
 * Worker threads that run only when a core is free, and are hurried when their work must not
 * wait. The store worker and the mirror worker do work that can wait: on a machine
 * whose cores are all busy, running them at the request thread's priority took its time slices.
 * But an idle thread on a busy machine gets almost no time (SCHED_IDLE's weight is 3 against
 * 1,024), for as long as the machine stays busy. So the request thread hurries:
 *   - the store worker, while a control-plane call waits for it (ground truth, a query, a stage
 *     approval: each first catches up with the records before it) and for the stop;
 *   - the mirror worker, when its oldest mirror has waited a second while the request thread
 *     itself was mostly idle (something else keeps the cores busy), and for the stop.
 *
 *   worker thread:   runOnlyWhenIdle()  ──{ tid, priority }──▶  request thread: IdleThread
 *   request thread:  hurry() (normal priority)   relax() (idle again)
 *
 * The request thread changes the worker's priority, not the worker itself: a starved thread
 * cannot be counted on to run the command. Linux lets any thread lower a priority, but raising
 * one needs root, CAP_SYS_NICE, or an RLIMIT_NICE of 20 (`docker run --ulimit nice=20`).
 * Without them hurry() logs once and the thread stays idle.
 */
import { execFile, execFileSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import type { Logger } from '../log.js'

/** What runOnlyWhenIdle set on which thread (the kernel's thread id). */
export interface LoweredThread {
  readonly tid: number | null
  readonly priority: 'SCHED_IDLE' | 'nice 19' | 'unchanged'
}

/**
 * Let the calling thread run only when everything at normal priority leaves a core free:
 * Linux's SCHED_IDLE, set with `chrt` (util-linux, on every Debian system and in the node
 * images), else nice 19 (which helped little: nice still shares by weight, SCHED_IDLE does not
 * preempt).
 */
export function runOnlyWhenIdle(): LoweredThread {
  const tid = currentThreadId()
  if (tid === null) return { tid, priority: 'unchanged' }
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

/** The request thread's handle on a worker thread that lowered itself. */
export class IdleThread {
  readonly #lowered: LoweredThread
  readonly #what: string
  readonly #log: Logger
  #wanted: 'normal' | 'idle' = 'idle'
  #applied: 'normal' | 'idle' = 'idle'
  /** A `chrt` is running: changes are applied one at a time, in order. */
  #isApplying = false
  /** Raising was refused (no privilege): it is not tried again. */
  #cannotRaise = false
  /** A change failed otherwise: the thread has ended, nothing more is tried. */
  #isGone = false

  constructor(lowered: LoweredThread, what: string, log: Logger) {
    this.#lowered = lowered
    this.#what = what
    this.#log = log
    if (lowered.tid === null || lowered.priority === 'unchanged') this.#cannotRaise = true // never lowered
  }

  /** Back to normal priority, until relax(). */
  hurry(): void {
    this.#wanted = 'normal'
    this.#apply()
  }

  /** Idle priority again, after hurry(). */
  relax(): void {
    this.#wanted = 'idle'
    this.#apply()
  }

  #apply(): void {
    const to = this.#wanted
    if (this.#isApplying || this.#isGone || to === this.#applied || (to === 'normal' && this.#cannotRaise)) return
    this.#isApplying = true
    this.#set(to, (err) => {
      this.#isApplying = false
      if (err === null) this.#applied = to
      else if (to === 'normal' && isNotPermitted(err)) {
        this.#cannotRaise = true
        this.#log.info(`the ${this.#what} stays at idle priority when it should hurry (raising a priority needs root, CAP_SYS_NICE or an RLIMIT_NICE of 20); on a busy machine its work waits for a free core`, { err: err.message })
      } else {
        // the thread is gone (its worker stopped), or chrt timed out: never retried in a loop
        this.#isGone = true
        return
      }
      this.#apply()
    })
  }

  #set(to: 'normal' | 'idle', done: (err: Error | null) => void): void {
    const tid = this.#lowered.tid!
    if (this.#lowered.priority === 'nice 19') {
      try {
        setPriority(tid, to === 'normal' ? 0 : 19)
        return done(null)
      } catch (err) {
        return done(err as Error)
      }
    }
    execFile('chrt', [to === 'normal' ? '--other' : '--idle', '-p', '0', String(tid)], { timeout: 2_000 }, (err, _stdout, stderr) => {
      done(err === null ? null : new Error(`${err.message.trim()} ${String(stderr).trim()}`))
    })
  }
}

/** EPERM from setPriority, or chrt's "Operation not permitted". */
function isNotPermitted(err: Error): boolean {
  return (err as { info?: { code?: string } }).info?.code === 'EPERM' || /EPERM|not permitted/i.test(err.message)
}

/** This thread's id in the kernel (Linux), or null elsewhere. */
function currentThreadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop())
  } catch {
    return null
  }
}
