/**
 * The e2e tests run the built CLI, as `npm start` does: build it before them, once for both
 * e2e projects (scripts/build-if-stale.mjs compiles only when a source is newer than dist/).
 */
import { execFileSync } from 'node:child_process'

export default function setup(): void {
  const root = new URL('../..', import.meta.url).pathname
  execFileSync(process.execPath, [`${root}scripts/build-if-stale.mjs`], { cwd: root, stdio: 'inherit' })
}
