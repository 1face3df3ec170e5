/**
 * Watching the files people edit while the gateway runs: routes.yaml and the model
 * repository. A folder is watched rather than a file: editors save by writing a new file and
 * renaming it over the old one, which ends a watch on the file itself. Bursts of events
 * (write, rename, chmod; a model folder copied in) are folded into one call.
 */
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'

export interface Watch {
  close(): void
}

const NO_WATCH: Watch = { close() {} }

function watchFolder(folder: string, recursive: boolean, settleMs: number, accept: (name: string | null) => boolean, onChange: () => void): Watch {
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher
  try {
    watcher = watch(folder, { recursive }, (_event, name) => {
      if (!accept(name)) return
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        onChange()
      }, settleMs)
    })
  } catch {
    return NO_WATCH // nothing to watch: the explicit triggers (SIGHUP, admin endpoints) still work
  }
  watcher.on('error', () => watcher.close())
  watcher.unref()
  return {
    close() {
      if (timer !== null) clearTimeout(timer)
      watcher.close()
    },
  }
}

/**
 * A Kubernetes ConfigMap or Secret volume makes each key a symlink through `..data`, and an
 * update renames a new `..data` over the old one: no event names the file itself.
 */
const KUBERNETES_DATA_LINK = '..data'

/** Call `onChange` when routes.yaml is saved, or its ConfigMap volume updated. */
export function watchRoutesFile(path: string, onChange: () => void): Watch {
  const file = basename(path)
  return watchFolder(dirname(resolve(path)), false, 50, (name) => name === null || name === file || name === KUBERNETES_DATA_LINK, onChange)
}

/** Call `onChange` when anything below the model repository changes (a version added or removed). */
export function watchModelRepository(dir: string, onChange: () => void): Watch {
  return watchFolder(resolve(dir), true, 500, () => true, onChange)
}
