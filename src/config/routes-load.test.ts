import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkRoutesSource } from './routes-check.js'
import { formatProblem } from './routes-load.js'
import { routesJsonSchema } from './routes-json-schema.js'

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/routes/${name}`, import.meta.url), 'utf8')
const catalog = {
  versionsOf: (m: string) => ({ 'credit-risk': ['v1', 'v2', 'v3'], fraud: ['v1', 'v2', 'v3'], churn: ['v1', 'v2'] } as Record<string, string[]>)[m],
}

/** The problems the server's own path finds (start, reload and switchyard validate all call checkRoutesSource). */
function problemsOf(source: string): string[] {
  const checked = checkRoutesSource(source, catalog)
  return checked.ok ? [] : checked.problems.map((p) => formatProblem(p))
}

describe('routes.yaml loading and checks', () => {
  it('accepts the reference routes.yaml of ARCHITECTURE.md as written', () => {
    expect(problemsOf(fixture('valid-reference.yaml'))).toEqual([])
  })

  it('reports every schema problem at once, each with its line and column', () => {
    expect(problemsOf(fixture('invalid-many.yaml'))).toEqual([
      "routes.yaml:5:5: routes.credit-risk.weights: unknown key 'weights': did you mean 'split'?",
      'routes.yaml:8:28: routes.fraud.challengers.v2: a percent is at most 100',
    ])
  })

  it('reports every semantic problem at once, each with its line', () => {
    const source = fixture('invalid-many.yaml').replace('    weights: { v1: 1 }\n', '').replace('v2: 101', 'v2: 100')
    expect(problemsOf(source)).toEqual([
      'routes.yaml:3:5: routes.credit-risk.split: weights sum to 110, not 100',
      "routes.yaml:4:15: routes.credit-risk.labels.stable: model 'credit-risk' has no version 'v9' (versions: v1, v2, v3)",
      "routes.yaml:7:20: routes.fraud.challengers.v1: 'v1' is the champion; it cannot also be a challenger",
      "routes.yaml:8:3: routes.nosuch: no model 'nosuch' in the model repository",
      'routes.yaml:11:29: routes.churn.canary.candidate: the candidate must differ from the baseline',
      'routes.yaml:11:56: routes.churn.canary.steps.1: steps must rise: 25 follows 50',
    ])
  })

  it('reports YAML syntax errors with their line', () => {
    expect(problemsOf('routes:\n  a: [1\n')[0]).toMatch(/^routes.yaml:\d+:\d+: YAML syntax: /)
    expect(problemsOf('routes:\n  credit-risk:\n    split: { v1: 100 }\n  credit-risk:\n    split: { v3: 100 }\n'))
      .toEqual(["routes.yaml:4:3: YAML syntax: the key 'credit-risk' appears twice in one map"])
  })

  // issue #14: each of these was applied as "no routes", sending traffic to the newest version
  it.each([
    ['', "routes.yaml: the file is empty or only comments; the last good routes still serve. To remove every route, write 'routes: {}'"],
    ['# nothing\n', "routes.yaml: the file is empty or only comments; the last good routes still serve. To remove every route, write 'routes: {}'"],
    ['routes:\n  __proto__:\n    split: { v3: 100 }\n', "routes.yaml:2:3: the key '__proto__' is not allowed"],
    ['other: 1\n', "routes.yaml:1:1: routes: routes.yaml needs a 'routes:' key; write 'routes: {}' for no routes"],
  ])('refuses %j instead of reading it as no routes', (source, problem) => {
    expect(problemsOf(source)).toContain(problem)
  })

  it('refuses a version that both answers and shadows, and a route with no answering strategy', () => {
    expect(problemsOf('routes:\n  credit-risk:\n    split: { v1: 100 }\n    shadow: { v1: 10 }\n')).toEqual([
      "routes.yaml:4:15: routes.credit-risk.shadow.v1: 'v1' already answers on this route; a version cannot also shadow it",
    ])
    expect(problemsOf('routes:\n  credit-risk:\n    labels: { stable: v1 }\n')[0]).toContain("a route needs one of 'split', 'champion' or 'canary'")
  })

  it('keeps schemas/routes.schema.json in step with the zod schema (run npm run schema)', () => {
    const committed = readFileSync(new URL('../../schemas/routes.schema.json', import.meta.url), 'utf8')
    expect(committed).toBe(routesJsonSchema())
  })
})
