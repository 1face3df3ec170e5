/**
 * routes.yaml, steps 1 and 2 of the config pipeline (STYLE.md §4): read and hash, then
 * parse and check the schema, collecting EVERY problem with its YAML path, line and column,
 * because people edit this file by hand and want all the mistakes at once.
 */
import { createHash } from 'node:crypto'
import { isMap, isNode, LineCounter, parseDocument } from 'yaml'
import type { Document } from 'yaml'
import type { z } from 'zod'
import { RENAMED_KEYS, RoutesFileSchema } from './routes-schema.js'
import type { RoutesFile } from './routes-schema.js'

export interface ConfigProblem {
  /** Dotted YAML path, e.g. routes.credit-risk.split.v2 */
  readonly path: string
  /** 1-based; null when the problem has no single place (e.g. an empty file). */
  readonly line: number | null
  readonly column: number | null
  readonly message: string
}

export interface ParsedRoutes {
  readonly file: RoutesFile
  /** Where each path is in the source, for the semantic checks' messages. */
  readonly locate: (path: readonly (string | number)[]) => { line: number | null; column: number | null }
}

export type ParseOutcome = { ok: true; parsed: ParsedRoutes } | { ok: false; problems: ConfigProblem[] }

export function sha256Of(source: string): string {
  return createHash('sha256').update(source).digest('hex')
}

export function parseRoutesSource(source: string): ParseOutcome {
  const lineCounter = new LineCounter()
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0])
        return { path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}` }
      }),
    }
  }
  const locate = (path: readonly (string | number)[]) => locateIn(doc, lineCounter, path)
  const result = RoutesFileSchema.safeParse(doc.toJS() ?? {})
  if (!result.success) return { ok: false, problems: inFileOrder(result.error.issues.flatMap((issue) => toProblems(issue, locate))) }
  return { ok: true, parsed: { file: result.data, locate } }
}

function toProblems(issue: z.core.$ZodIssue, locate: ParsedRoutes['locate']): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const renamed = RENAMED_KEYS[key]
      const message = renamed === undefined ? `unknown key '${key}'` : `unknown key '${key}': did you mean '${renamed}'?`
      return { path: [...path, key].join('.'), ...locate([...path, key]), message }
    })
  }
  return [{ path: path.join('.'), ...locate(path), message: issue.message }]
}

/** The line and column of the node at `path`, or of its nearest ancestor that exists. */
function locateIn(doc: Document, lineCounter: LineCounter, path: readonly (string | number)[]): { line: number | null; column: number | null } {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n)
    const node = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true)
    let offset: number | undefined
    if (n < path.length && isMap(node)) {
      // a missing key: point at the map that should hold it
      offset = node.range?.[0]
    } else if (n === path.length && prefix.length > 0) {
      // prefer the key's position over the value's: that is where people look
      const parent = prefix.length === 1 ? doc.contents : doc.getIn(prefix.slice(0, -1), true)
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isNode(p.key) ? (p.key as { value?: unknown }).value === prefix.at(-1) : p.key === prefix.at(-1))
        if (pair !== undefined && isNode(pair.key)) offset = pair.key.range?.[0]
      }
      if (offset === undefined && isNode(node)) offset = node.range?.[0]
    } else if (isNode(node)) {
      offset = node.range?.[0]
    }
    if (offset !== undefined) {
      const pos = lineCounter.linePos(offset)
      return { line: pos.line, column: pos.col }
    }
  }
  return { line: null, column: null }
}

/** Problems in the order of the file, as a person reads it; those with no place last. */
export function inFileOrder(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const at = (p: ConfigProblem) => (p.line ?? Number.MAX_SAFE_INTEGER) * 1e6 + (p.column ?? 0)
  return [...problems].sort((a, b) => at(a) - at(b))
}

export function formatProblem(p: ConfigProblem, file = 'routes.yaml'): string {
  const where = p.line === null ? file : `${file}:${p.line}:${p.column}`
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`
}
