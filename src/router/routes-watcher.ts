/**
 * Applies routes.yaml when it is saved. Watches the folder rather than the file: editors
 * save by writing a new file and renaming it over the old one, which ends a watch on the
 * file itself. Bursts of events (write, rename, chmod) are folded into one reload.
 */
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

const SETTLE_MS = 50 // quiet time after the last event before reloading

export function watchRoutesFile(path: string, onChange: () => void): { close(): void } {
  const file = basename(path)
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher
  try {
    watcher = watch(dirname(resolve(path)), (_event, changed) => {
      if (changed !== null && changed !== file) return
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        onChange()
      }, SETTLE_MS)
    })
  } catch {
    return { close() {} } // no folder to watch: SIGHUP and POST /admin/routes/reload still work
  }
  watcher.unref()
  return {
    close() {
      if (timer !== null) clearTimeout(timer)
      watcher.close()
    },
  }
}
