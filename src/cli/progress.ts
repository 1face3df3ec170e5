/**
 * A progress bar on stderr for long CLI jobs. On a terminal it redraws one line; otherwise
 * (CI, a pipe) it prints a line at every tenth, so logs stay short.
 */
const WIDTH = 30 // characters of bar

export class ProgressBar {
  readonly #total: number
  readonly #label: string
  readonly #out: NodeJS.WriteStream
  readonly #tty: boolean
  #done = 0
  #lastTenth = -1

  constructor(total: number, label: string, out: NodeJS.WriteStream = process.stderr) {
    this.#total = total
    this.#label = label
    this.#out = out
    this.#tty = out.isTTY === true
    this.#render()
  }

  advance(n: number): void {
    this.#done += n
    this.#render()
  }

  finish(): void {
    this.#done = Math.max(this.#done, this.#total)
    this.#render()
    if (this.#tty) this.#out.write('\n')
  }

  #render(): void {
    const fraction = this.#total === 0 ? 1 : Math.min(1, this.#done / this.#total)
    const filled = Math.round(fraction * WIDTH)
    const line = `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.floor(fraction * 100)}% ${this.#done}/${this.#total}`
    if (this.#tty) {
      this.#out.write(`\r${line}`)
      return
    }
    const tenth = Math.floor(fraction * 10)
    if (tenth !== this.#lastTenth) this.#out.write(line + '\n')
    this.#lastTenth = tenth
  }
}
