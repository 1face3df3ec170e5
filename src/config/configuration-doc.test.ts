import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { configurationDoc } from './configuration-doc.js'
import { SERVE_OPTIONS } from './options.js'

describe('docs/configuration.md', () => {
  it('is what npm run docs:config writes from the option declarations', () => {
    expect(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')).toBe(configurationDoc())
  })

  it('names every option once, with a flag or a variable', () => {
    const keys = SERVE_OPTIONS.map((o) => o.key)
    expect(new Set(keys).size).toBe(keys.length)
    expect(SERVE_OPTIONS.every((o) => o.flag !== null || o.env !== null)).toBe(true)
  })
})
