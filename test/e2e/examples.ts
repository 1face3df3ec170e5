/**
 * Reading the examples of a documentation page and comparing what they print with what the
 * page shows (docs-examples.test.ts runs them).
 *
 * An example is a ```sh block; the block right after it (only blank lines between), when it
 * is ```json or ```text, is what it prints. A ```sh block whose info string says `no-run`
 * (```sh no-run) is an illustration (a Docker command, another machine's store) and is skipped.
 *
 * In a shown output, `…` stands for anything (ids, times, latencies, the rest of a long
 * answer); a decimal number matches any number within one unit of its last digit shown, so
 * the digits past those shown are masked whether the page rounds or cuts them; all else must be equal, up to whitespace outside JSON strings (json) or runs of spaces (text).
 */

export interface Example {
  /** The page's line of the ```sh fence. */
  readonly line: number
  readonly command: string
  readonly shown: string | null
  readonly shownLang: 'json' | 'text'
}

const FENCE = /^```(\S*)\s*(.*)$/

export function examplesOf(markdown: string): Example[] {
  const lines = markdown.split('\n')
  const blocks: { line: number; lang: string; info: string; text: string; end: number }[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i])
    if (open === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !lines[i].startsWith('```'); i++) body.push(lines[i])
    blocks.push({ line: start + 1, lang: open[1], info: open[2], text: body.join('\n'), end: i })
  }
  const examples: Example[] = []
  blocks.forEach((block, n) => {
    if (block.lang !== 'sh' || /\bno-run\b/.test(block.info)) return
    const next = blocks[n + 1]
    const isAdjacent = next !== undefined && lines.slice(block.end + 1, next.line - 1).every((l) => l.trim() === '')
    const shows = isAdjacent && (next.lang === 'json' || next.lang === 'text')
    examples.push({ line: block.line, command: block.text, shown: shows ? next.text : null, shownLang: shows && next.lang === 'json' ? 'json' : 'text' })
  })
  return examples
}

/**
 * The script that runs an example here: the gateway at `port` instead of 8080 (and its gRPC
 * service at `grpcPort` instead of 8081), the built CLI of `root` for `node dist/cli.js` and
 * `npx switchyard`, `root`'s scripts for `node scripts/…`; `npm install`, `npm start` and
 * `npm test` lines are left out (the test has installed and started the gateway already).
 */
export function prepareCommand(command: string, where: { root: string; port: number; grpcPort: number }): { script: string; startsGateway: boolean } {
  let startsGateway = false
  const kept = command.split('\n').filter((line) => {
    const bare = line.trim()
    if (bare === 'npm start') startsGateway = true
    return !/^npm (install|start|test)$/.test(bare)
  })
  const script = kept.join('\n')
    .replaceAll('localhost:8080', `127.0.0.1:${where.port}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${where.port}`)
    .replaceAll('localhost:8081', `127.0.0.1:${where.grpcPort}`)
    .replaceAll('127.0.0.1:8081', `127.0.0.1:${where.grpcPort}`)
    .replaceAll('node scripts/', `node ${where.root}scripts/`)
    .replaceAll('node dist/cli.js', `node ${where.root}dist/cli.js`)
    .replaceAll('npx switchyard', `node ${where.root}dist/cli.js`)
  return { script, startsGateway }
}

const ELLIPSIS = '…'
const DECIMAL = /-?\d+\.\d+(?:[eE][-+]?\d+)?/y
const ANY_NUMBER = '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?)'

export function matchesShown(shown: string, printed: string, lang: 'json' | 'text'): boolean {
  const normalise = lang === 'json' ? withoutJsonWhitespace : withSingleSpaces
  const expected = normalise(shown)
  const actual = normalise(printed)
  const decimals: string[] = []
  let pattern = ''
  for (let i = 0; i < expected.length;) {
    if (expected[i] === ELLIPSIS) {
      pattern += '[\\s\\S]*?'
      i++
      continue
    }
    DECIMAL.lastIndex = i
    const number = /[\w.]/.test(expected[i - 1] ?? ' ') ? null : DECIMAL.exec(expected)
    if (number !== null && !/[\w.]/.test(expected[i + number[0].length] ?? ' ')) {
      decimals.push(number[0])
      pattern += ANY_NUMBER
      i += number[0].length
      continue
    }
    pattern += expected[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    i++
  }
  const found = new RegExp(`^${pattern}$`).exec(actual)
  if (found === null) return false
  return decimals.every((text, k) => {
    const [mantissa, exponent = '0'] = text.split(/[eE]/)
    const lastDigit = Number(exponent) - (mantissa.split('.')[1] ?? '').length // the power of ten of the last digit shown
    return Math.abs(Number(found[k + 1]) - Number(text)) < 10 ** lastDigit * (1 + 1e-9)
  })
}

/** JSON as one line: whitespace outside strings removed (the page may show it pretty-printed). */
function withoutJsonWhitespace(text: string): string {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      out += c
      if (c === '\\') out += text[++i] ?? ''
      else if (c === '"') inString = false
    } else if (c === '"') {
      inString = true
      out += c
    } else if (!/\s/.test(c)) {
      out += c
    }
  }
  return out
}

/** Text with trailing spaces and blank lines dropped and runs of spaces made one (table columns). */
function withSingleSpaces(text: string): string {
  return text.split('\n').map((l) => l.replace(/ +/g, ' ').trimEnd()).filter((l) => l !== '').join('\n')
}
