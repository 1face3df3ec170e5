/**
 * CPU time a server process spends per request, its main (request) thread apart from its other
 * threads (workers, V8's helpers), read from /proc on Linux. Unlike req/s, CPU time per request
 * hardly depends on what else the shared machine is doing, so it shows what a change costs
 * even when throughput figures swing by a third from one run to the next.
 */
import { execSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

export interface CpuPerRequest {
  /** Microseconds of CPU a request on the main thread. */
  readonly mainUs: number
  /** Microseconds of CPU a request on every other thread of the process. */
  readonly otherUs: number
}

type Ticks = Map<number, number>

const TICK_US = (() => {
  try {
    return 1e6 / Number(execSync('getconf CLK_TCK').toString().trim())
  } catch {
    return 10_000
  }
})()

/** user + system clock ticks of each thread of `pid`; null where /proc is not there. */
export function threadTicks(pid: number): Ticks | null {
  try {
    const ticks: Ticks = new Map()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12])) // utime, stime (fields 14 and 15)
    }
    return ticks
  } catch {
    return null
  }
}

export function cpuPerRequest(pid: number, before: Ticks | null, after: Ticks | null, requests: number): CpuPerRequest | null {
  if (before === null || after === null || requests === 0) return null
  let main = 0
  let other = 0
  for (const [tid, t] of after) {
    const spent = t - (before.get(tid) ?? 0)
    if (tid === pid) main += spent
    else other += spent
  }
  const perRequest = (ticks: number) => Number(((ticks * TICK_US) / requests).toFixed(1))
  return { mainUs: perRequest(main), otherUs: perRequest(other) }
}
