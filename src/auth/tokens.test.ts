import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { hashToken, newToken, TokenStore } from './tokens.js'

describe('TokenStore', () => {
  it('knows a token by its digest only, from the file and from the environment', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-tokens-')), 'tokens.yaml')
    const alice = newToken()
    const bob = newToken()
    writeFileSync(file, `tokens:\n  - { name: alice, role: editor, sha256: ${hashToken(alice)} }\n`)
    const store = new TokenStore(file, `bob:approver:${hashToken(bob)}`)
    expect(store.identify(alice)).toEqual({ name: 'alice', role: 'editor' })
    expect(store.identify(bob)).toEqual({ name: 'bob', role: 'approver' })
    expect(store.identify(`${alice}x`)).toBeNull()
  })

  it('refuses every token of a file that becomes unreadable, and says so', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-tokens-')), 'tokens.yaml')
    const alice = newToken()
    writeFileSync(file, `tokens:\n  - { name: alice, role: admin, sha256: ${hashToken(alice)} }\n`)
    const store = new TokenStore(file, undefined)
    const problems: string[] = []
    store.onReloadError = (m) => problems.push(m)
    expect(store.identify(alice)?.name).toBe('alice')
    await new Promise((r) => setTimeout(r, 1_100)) // the file is checked at most once a second
    writeFileSync(file, 'tokens:\n  - { name: alice, role: admin, sha256: not-hex\n') // a broken edit
    expect(store.identify(alice)).toBeNull()
    expect(problems[0]).toContain('refused until it is fixed')
  })

  it('knows a token added to the file from its first use, without waiting for the next check', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-tokens-')), 'tokens.yaml')
    const alice = newToken()
    const bob = newToken()
    writeFileSync(file, `tokens:\n  - { name: alice, role: editor, sha256: ${hashToken(alice)} }\n`)
    const store = new TokenStore(file, undefined)
    expect(store.identify(alice)?.name).toBe('alice') // the file was just checked
    writeFileSync(file, `tokens:\n  - { name: alice, role: editor, sha256: ${hashToken(alice)} }\n  - { name: bob, role: approver, sha256: ${hashToken(bob)} }\n`)
    expect(store.identify(bob)).toEqual({ name: 'bob', role: 'approver' })
  })

  it('refuses to start on a broken file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-tokens-')), 'tokens.yaml')
    writeFileSync(file, 'tokens:\n  - { name: x, role: king, sha256: 00 }\n')
    expect(() => new TokenStore(file, undefined)).toThrow(/tokens\.yaml/)
  })

  // issue #14: 'Carol' and 'carol' counted as two people for two-person approval
  it('refuses two tokens whose names differ only in case, in the file or across file and environment', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'switchyard-tokens-')), 'tokens.yaml')
    writeFileSync(file, `tokens:\n  - { name: Carol, role: editor, sha256: ${hashToken(newToken())} }\n  - { name: carol, role: approver, sha256: ${hashToken(newToken())} }\n`)
    expect(() => new TokenStore(file, undefined)).toThrow(/the name 'carol' is taken \(as 'Carol'\)/)
    writeFileSync(file, `tokens:\n  - { name: carol, role: approver, sha256: ${hashToken(newToken())} }\n`)
    expect(() => new TokenStore(file, `CAROL:editor:${hashToken(newToken())}`)).toThrow(/taken/)
    expect(() => new TokenStore(null, `dave:editor:${hashToken(newToken())},Dave:approver:${hashToken(newToken())}`)).toThrow(/SWITCHYARD_TOKENS: the name 'Dave' is taken/)
  })
})
