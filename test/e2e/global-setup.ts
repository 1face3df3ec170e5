/** The e2e tests run the built CLI, as `npm start` does: build it once before them. */
import { execFileSync } from 'node:child_process'

export default function setup(): void {
  const root = new URL('../..', import.meta.url).pathname
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
}
