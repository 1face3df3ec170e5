/**
 * API tokens: configured in a YAML file (tokens.yaml) or the environment, stored as SHA-256
 * digests only, never as the token itself, and never logged. A presented token is hashed
 * and compared with every configured digest in constant time, without stopping at a match,
 * so the time taken says nothing about which digest was close.
 *
 *   tokens.yaml                                       SWITCHYARD_TOKENS
 *   tokens:                                           alice:approver:9f86d0…,bob:editor:60303a…
 *     - { name: alice, role: approver, sha256: 9f86d0… }
 *
 * The file is re-read when it changes (checked at most once a second), so a token added with
 * `switchyard token new` works without a restart.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { ROLES } from '../lifecycle/roles.js'
import type { Role } from '../lifecycle/roles.js'

export interface Identity {
  readonly name: string
  readonly role: Role
}

interface Entry extends Identity {
  readonly digest: Buffer
}

const EntrySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a name is 1 to 64 letters, digits or _.@-'),
  role: z.enum(ROLES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 is 64 lowercase hex digits'),
})
const FileSchema = z.strictObject({ tokens: z.array(EntrySchema).default([]) })

const CHECK_EVERY_MS = 1_000

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** A new random token (256 bits, base64url), prefixed so that it is recognisable in a secret scanner. */
export function newToken(): string {
  return `sy_${randomBytes(32).toString('base64url')}`
}

export class TokenStore {
  readonly #path: string | null
  readonly #fromEnv: Entry[]
  #fromFile: Entry[] = []
  #mtimeMs = -1
  #checkedAt = 0

  /** Told when a changed tokens file cannot be read; its tokens are then all refused (fail closed). */
  onReloadError: ((message: string) => void) | null = null

  /** A broken file at start throws (the gateway does not start); a file broken later refuses its tokens. */
  constructor(path: string | null, env: string | undefined) {
    this.#path = path
    this.#fromEnv = parseEnv(env)
    const clash = sameNameTwice(this.#fromEnv)
    if (clash !== null) throw new Error(`SWITCHYARD_TOKENS: ${clash}`)
    const problem = this.#reload()
    if (problem !== null) throw new Error(problem)
  }

  /** Whether any token is configured at all (for the message of a 401). */
  get configured(): boolean {
    this.#refresh()
    return this.#fromEnv.length + this.#fromFile.length > 0
  }

  /**
   * The identity of an `Authorization: Bearer <token>` header; null for a token that is not
   * configured. A token not found makes the file be checked at once, so a token just made
   * with `switchyard token new` works on its first call (a stat, and a read only if it changed).
   */
  identify(token: string): Identity | null {
    this.#refresh(false)
    const digest = createHash('sha256').update(token).digest()
    return this.#find(digest) ?? (this.#refresh(true) ? this.#find(digest) : null)
  }

  #find(digest: Buffer): Identity | null {
    let found: Identity | null = null
    for (const e of [...this.#fromEnv, ...this.#fromFile]) {
      if (timingSafeEqual(digest, e.digest) && found === null) found = { name: e.name, role: e.role } // no early exit
    }
    return found
  }

  /** Re-read the file if it changed; checked at most once a second unless `now`. Returns whether it was re-read. */
  #refresh(now = false): boolean {
    const at = Date.now()
    if (this.#path === null || (!now && at - this.#checkedAt < CHECK_EVERY_MS)) return false
    this.#checkedAt = at
    let mtime = -1
    try {
      mtime = statSync(this.#path).mtimeMs
    } catch {
      // no file: no file tokens
    }
    if (mtime === this.#mtimeMs) return false
    const problem = this.#reload()
    if (problem !== null) this.onReloadError?.(problem)
    return true
  }

  /** Read the file; returns what is wrong with it (its tokens are then dropped), or null. */
  #reload(): string | null {
    this.#checkedAt = Date.now()
    if (this.#path === null) return null
    let text: string
    try {
      this.#mtimeMs = statSync(this.#path).mtimeMs
      text = readFileSync(this.#path, 'utf8')
    } catch {
      this.#mtimeMs = -1
      this.#fromFile = []
      return null // no file: no file tokens
    }
    let problem: string | null = null
    try {
      const parsed = FileSchema.safeParse(parseYaml(text) ?? {})
      if (parsed.success) {
        const entries = parsed.data.tokens.map((t) => ({ name: t.name, role: t.role, digest: Buffer.from(t.sha256, 'hex') }))
        problem = sameNameTwice([...this.#fromEnv, ...entries])
        if (problem === null) {
          this.#fromFile = entries
          return null
        }
      } else {
        problem = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')
      }
    } catch (err) {
      problem = (err as Error).message // not YAML at all
    }
    this.#fromFile = [] // fail closed: a token removed in a broken edit must not keep working
    return `${this.#path}: ${problem}; every token of this file is refused until it is fixed`
  }
}

/**
 * A token's name is the person who holds it, and two-person approval counts people by name:
 * 'Carol' and 'carol' must not count as two (issue #14). Names are unique without regard to case.
 */
function sameNameTwice(entries: readonly Identity[]): string | null {
  const seen = new Map<string, string>()
  for (const e of entries) {
    const key = e.name.toLowerCase()
    const earlier = seen.get(key)
    if (earlier !== undefined) return `the name '${e.name}' is taken${earlier === e.name ? '' : ` (as '${earlier}')`}: each person has one token name, compared without case; remove one of them`
    seen.set(key, e.name)
  }
  return null
}

/** The names the tokens file holds now (for `switchyard token new`, which refuses a name taken). */
export function tokenNamesIn(path: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  const parsed = FileSchema.safeParse(parseYaml(text) ?? {})
  return parsed.success ? parsed.data.tokens.map((t) => t.name) : []
}

function parseEnv(text: string | undefined): Entry[] {
  if (text === undefined || text.trim() === '') return []
  return text.split(',').map((item) => {
    const [name, role, sha256] = item.trim().split(':')
    const parsed = EntrySchema.safeParse({ name, role, sha256 })
    if (!parsed.success) throw new Error(`SWITCHYARD_TOKENS: '${name ?? ''}' is not name:role:sha256 (${parsed.error.issues[0].message})`)
    return { name: parsed.data.name, role: parsed.data.role, digest: Buffer.from(parsed.data.sha256, 'hex') }
  })
}
