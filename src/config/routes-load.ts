/**
 * routes.yaml, steps 1 and 2 of the config pipeline (STYLE.md §4): read and hash, then
 * parse and check the schema, collecting EVERY problem with its YAML path, line and column,
 * because people edit this file by hand and want all the mistakes at once.
 */
import { createHash } from 'node:crypto'
import { isMap, isNode, isScalar, LineCounter, parseDocument, visit } from 'yaml'
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

/** Largest routes.yaml read: a route is a few lines, so this holds thousands. */
export const MAX_ROUTES_BYTES = 1024 * 1024 // 1 MiB
const MAX_SCHEMA_PROBLEMS = 100
/** Keys that would reach an object's prototype when the YAML becomes JavaScript: refused anywhere. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])
/** A file that says nothing is a mistake, not "no routes" (a save cut short, an emptied file). */
export const EMPTY_FILE_MESSAGE = "the file is empty or only comments; the last good routes still serve. To remove every route, write 'routes: {}'"

const problem = (message: string, line: number | null = null, column: number | null = null, path = ''): ConfigProblem => ({ path, line, column, message })

export function parseRoutesSource(source: string): ParseOutcome {
  const bytes = Buffer.byteLength(source)
  if (bytes > MAX_ROUTES_BYTES) return { ok: false, problems: [problem(`the file is ${bytes} bytes, over the limit of ${MAX_ROUTES_BYTES}; a route takes a few lines`)] }
  const lineCounter = new LineCounter()
  // yaml's own uniqueKeys check compares each key with every other one: 5.4 s for 25,000 routes; ours below is linear
  const doc = parseDocument(source, { lineCounter, uniqueKeys: false, prettyErrors: false })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0])
        return { path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}` }
      }),
    }
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return { ok: false, problems: [problem(EMPTY_FILE_MESSAGE)] }
  const keyProblems: ConfigProblem[] = []
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key
        const pos = isNode(pair.key) && pair.key.range ? lineCounter.linePos(pair.key.range[0]) : null
        if (typeof key === 'string' && FORBIDDEN_KEYS.has(key)) keyProblems.push(problem(`the key '${key}' is not allowed`, pos?.line ?? null, pos?.col ?? null))
        else if (seen.has(key)) keyProblems.push(problem(`YAML syntax: the key '${String(key)}' appears twice in one map`, pos?.line ?? null, pos?.col ?? null))
        seen.add(key)
      }
    },
  })
  if (keyProblems.length > 0) return { ok: false, problems: keyProblems.slice(0, MAX_SCHEMA_PROBLEMS) }
  let value: unknown
  try {
    value = doc.toJS() // throws on an alias bomb (more aliases than yaml's maxAliasCount)
  } catch (err) {
    return { ok: false, problems: [problem(`YAML: ${(err as Error).message}`)] }
  }
  const locate = (path: readonly (string | number)[]) => locateIn(doc, lineCounter, path)
  const result = RoutesFileSchema.safeParse(value)
  if (!result.success) {
    const issues = result.error.issues.slice(0, MAX_SCHEMA_PROBLEMS) // each is located by a walk of the file
    const rest = result.error.issues.length - issues.length
    const problems = inFileOrder(issues.flatMap((issue) => toProblems(issue, locate)))
    return { ok: false, problems: rest === 0 ? problems : [...problems, problem(`and ${rest} more problems like these`)] }
  }
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
