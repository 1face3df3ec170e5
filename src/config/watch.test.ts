import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { watchRoutesFile } from './watch.js'
import type { Watch } from './watch.js'

const SEEN_WITHIN_MS = 2_000 // the watch settles for 50 ms; the rest is slack for a loaded machine

let dir: string
let watching: Watch | null = null

afterEach(() => {
  watching?.close()
  watching = null
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

function changes(path: string): { count: () => number; next: (withinMs?: number) => Promise<boolean> } {
  let count = 0
  let wake: (() => void) | null = null
  watching = watchRoutesFile(path, () => {
    count++
    wake?.()
  })
  return {
    count: () => count,
    next: (withinMs = SEEN_WITHIN_MS) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), withinMs)
      wake = () => {
        clearTimeout(timer)
        resolve(true)
      }
    }),
  }
}

describe('watching routes.yaml', () => {
  it('sees an editor save: a new file renamed over the old one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-watch-'))
    writeFileSync(join(dir, 'routes.yaml'), 'routes: {}\n')
    const seen = changes(join(dir, 'routes.yaml'))
    const next = seen.next()
    writeFileSync(join(dir, 'routes.yaml.tmp'), 'routes: {}\n# saved\n')
    renameSync(join(dir, 'routes.yaml.tmp'), join(dir, 'routes.yaml'))
    expect(await next).toBe(true)
  })

  // A Kubernetes ConfigMap volume (the kubelet's AtomicWriter): routes.yaml is a symlink to
  // ..data/routes.yaml, and an update writes a new timestamped folder and renames a new
  // ..data symlink over the old one. routes.yaml itself never changes, so no event names it.
  it('sees a ConfigMap update: the ..data symlink swapped beside routes.yaml', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-watch-'))
    mkdirSync(join(dir, '..2026_12_03_13_00_00.1'))
    writeFileSync(join(dir, '..2026_12_03_13_00_00.1', 'routes.yaml'), 'routes: {}\n')
    symlinkSync('..2026_12_03_13_00_00.1', join(dir, '..data'))
    symlinkSync('..data/routes.yaml', join(dir, 'routes.yaml'))
    const seen = changes(join(dir, 'routes.yaml'))
    const next = seen.next()
    mkdirSync(join(dir, '..2026_12_03_13_01_00.2'))
    writeFileSync(join(dir, '..2026_12_03_13_01_00.2', 'routes.yaml'), 'routes: {}\n# updated\n')
    symlinkSync('..2026_12_03_13_01_00.2', join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    rmSync(join(dir, '..2026_12_03_13_00_00.1'), { recursive: true })
    expect(await next).toBe(true)
    expect(seen.count()).toBe(1) // the swap's several events are folded into one reload
  })

  it('ignores other files in the folder', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-watch-'))
    writeFileSync(join(dir, 'routes.yaml'), 'routes: {}\n')
    const seen = changes(join(dir, 'routes.yaml'))
    const next = seen.next(500) // ten times the watch's settling time
    writeFileSync(join(dir, 'notes.txt'), 'not the routes\n')
    expect(await next).toBe(false)
  })
})
