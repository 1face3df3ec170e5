import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** What GET /v2 reports about this server. */
export const SERVER_INFO = { name: 'switchyard', version: pkg.version } as const
