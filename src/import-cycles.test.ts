/**
 * Dependencies between src/ folders point one way (STYLE.md §1; issue #15): a cycle between
 * two folders means neither can be understood, or moved, without the other. Each file's
 * folder is the first level under src/ (a top-level file is its own unit); imports of
 * types count too, since they tie the folders' designs together just the same.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = new URL('.', import.meta.url).pathname

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : []
  })
}

/** src/router/route-table.ts → router; src/index.ts → index.ts */
function unitOf(file: string): string {
  const [first, ...rest] = relative(SRC, file).split('/')
  return rest.length === 0 ? first : first // a folder, or a top-level file
}

export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>()
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file)
    const edges = graph.get(from) ?? new Set<string>()
    graph.set(from, edges)
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const to = unitOf(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      if (to !== from) edges.add(to)
    }
  }
  return graph
}

/** Every strongly connected group of more than one unit (Tarjan's algorithm). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    indices.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!))
      }
    }
    if (low.get(v) !== indices.get(v)) return
    const group: string[] = []
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w)
      group.push(w)
      if (w === v) break
    }
    if (group.length > 1) found.push(group.sort())
  }
  for (const v of graph.keys()) if (!indices.has(v)) visit(v)
  return found
}

describe('dependencies between src/ folders', () => {
  it('finds a cycle when there is one', () => {
    expect(cycles(new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]))).toEqual([['a', 'b', 'c']])
  })

  it('has no cycle', () => {
    const graph = folderGraph()
    expect(graph.size).toBeGreaterThan(10)
    expect(cycles(graph)).toEqual([])
  })
})
