/** Where the inference log lives: `--store sqlite:PATH` (the default), `--store postgres://...`, or `--store none`. */

export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'none' }

export const DEFAULT_STORE = 'sqlite:data/switchyard.db'

export function parseStoreSpec(text: string): StoreSpec {
  if (text === 'none' || text === 'off') return { kind: 'none' }
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length)
    if (path.length === 0) throw new Error(`--store '${text}' names no file; write sqlite:PATH, e.g. ${DEFAULT_STORE}`)
    return { kind: 'sqlite', path }
  }
  if (/^postgres(?:ql)?:\/\//.test(text)) return { kind: 'postgres', url: text }
  throw new Error(`--store '${text}' is not a store; write sqlite:PATH, postgres://user@host:5432/db or none`)
}

/** For logs and /admin: the store without its password. */
export function describeStoreSpec(spec: StoreSpec): string {
  if (spec.kind === 'sqlite') return `sqlite:${spec.path}`
  if (spec.kind === 'none') return 'none'
  const url = new URL(spec.url)
  if (url.password !== '') url.password = '***'
  return url.toString()
}
