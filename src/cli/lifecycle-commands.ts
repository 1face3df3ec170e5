/**
 * switchyard models | stage request|approve|reject|cancel|list | activity | token new
 *
 * The lifecycle from the command line, against a running gateway (client.ts), printing
 * readable tables; `token new` writes a token's hash to tokens.yaml and prints the token once.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { hashToken, newToken } from '../auth/tokens.js'
import { ROLES } from '../lifecycle/roles.js'
import type { ActivityEntry, StageRequest } from '../lifecycle/operations.js'
import { call, clientFromEnv, GatewayCallError, table } from './client.js'

const USAGE = `usage:
  switchyard models [--model M]
  switchyard stage request MODEL VERSION STAGE [--comment TEXT]
  switchyard stage approve|reject|cancel REQUEST_ID [--comment TEXT]
  switchyard stage list [--model M] [--status pending|approved|rejected|cancelled|all]
  switchyard activity [--model M] [--since TIME] [--limit N]
  switchyard token new --name NAME --role ${ROLES.join('|')} [--file tokens.yaml]

The gateway is SWITCHYARD_URL (default http://127.0.0.1:8080), the token SWITCHYARD_TOKEN.`

async function guarded(run: () => Promise<number>): Promise<number> {
  try {
    return await run()
  } catch (err) {
    if (!(err instanceof GatewayCallError)) throw err
    process.stderr.write(`switchyard: ${err.message}\n`)
    return 1
  }
}

function options(args: string[]) {
  return parseArgs({
    args, allowPositionals: true,
    options: {
      model: { type: 'string' }, comment: { type: 'string' }, status: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' },
      url: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, file: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  })
}

const usage = (message?: string): number => {
  process.stderr.write(`${message ? `switchyard: ${message}\n\n` : ''}${USAGE}\n`)
  return 2
}

export function modelsCommand(args: string[]): Promise<number> {
  const { values } = options(args)
  if (values.help) return Promise.resolve(usage())
  const client = clientFromEnv(values.url)
  return guarded(async () => {
    const { models } = await call<{ models: { name: string }[] }>(client, 'GET', '/v1/models')
    const rows: unknown[][] = []
    for (const m of models.filter((x) => values.model === undefined || x.name === values.model)) {
      const { versions } = await call<{ versions: { version: string; stage: string; locked: boolean; state: string; label: string | null }[] }>(client, 'GET', `/v1/models/${encodeURIComponent(m.name)}/versions`)
      for (const v of versions) rows.push([m.name, v.version, v.stage, v.locked ? 'locked' : '', v.state, v.label])
    }
    process.stdout.write(table(['MODEL', 'VERSION', 'STAGE', 'LOCK', 'STATE', 'LABEL'], rows))
    return 0
  })
}

export function stageCommand(args: string[]): Promise<number> {
  const { values, positionals } = options(args)
  const [action, ...rest] = positionals
  if (values.help || action === undefined) return Promise.resolve(usage())
  const client = clientFromEnv(values.url)
  const printRequests = (requests: StageRequest[]) => process.stdout.write(table(
    ['ID', 'MODEL', 'VERSION', 'FROM', 'TO', 'STATUS', 'REQUESTER', 'DECIDED BY', 'SKIPS', 'COMMENT'],
    requests.map((r) => [r.id, r.model, r.version, r.from_stage, r.to_stage, r.status, r.requester, r.decided_by, r.skipped.join(','), r.comment]),
  ))
  return guarded(async () => {
    if (action === 'request') {
      const [model, version, stage] = rest
      if (stage === undefined) return usage('stage request needs MODEL VERSION STAGE')
      const { request, flagged } = await call<{ request: StageRequest; flagged: string | null }>(client, 'POST',
        `/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/stage-requests`, { stage, comment: values.comment })
      printRequests([request])
      if (flagged) process.stdout.write(`note: this request ${flagged}\n`)
      process.stdout.write(`a different person with the approver role must approve it: switchyard stage approve ${request.id}\n`)
      return 0
    }
    if (action === 'approve' || action === 'reject' || action === 'cancel') {
      const [id] = rest
      if (id === undefined) return usage(`stage ${action} needs a REQUEST_ID (see switchyard stage list)`)
      const { request } = await call<{ request: StageRequest }>(client, 'POST', `/v1/stage-requests/${encodeURIComponent(id)}/${action}`, { comment: values.comment })
      printRequests([request])
      return 0
    }
    if (action === 'list') {
      const q = new URLSearchParams()
      if (values.model) q.set('model', values.model)
      if (values.status) q.set('status', values.status)
      printRequests((await call<{ requests: StageRequest[] }>(client, 'GET', `/v1/stage-requests?${q}`)).requests)
      return 0
    }
    return usage(`unknown stage action '${action}'`)
  })
}

export function activityCommand(args: string[]): Promise<number> {
  const { values } = options(args)
  if (values.help) return Promise.resolve(usage())
  const client = clientFromEnv(values.url)
  return guarded(async () => {
    const q = new URLSearchParams()
    if (values.model) q.set('model', values.model)
    if (values.since) q.set('since', values.since)
    if (values.limit) q.set('limit', values.limit)
    const { activity } = await call<{ activity: ActivityEntry[] }>(client, 'GET', `/v1/activity?${q}`)
    process.stdout.write(table(['AT', 'WHO', 'WHAT', 'MODEL', 'VERSION', 'DETAIL', 'COMMENT'],
      activity.map((a) => [a.at, a.actor, a.kind, a.model, a.version, a.detail === null ? null : JSON.stringify(a.detail).slice(0, 80), a.comment])))
    return 0
  })
}

export async function tokenCommand(args: string[]): Promise<number> {
  const { values, positionals } = options(args)
  if (values.help || positionals[0] !== 'new') return usage()
  const { name, role } = values
  if (name === undefined || !/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) return usage('--name must be 1 to 64 letters, digits or _.@-')
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) return usage(`--role must be one of ${ROLES.join(', ')}`)
  const file = values.file ?? process.env.SWITCHYARD_TOKENS_FILE ?? 'tokens.yaml'
  const token = newToken()
  if (!existsSync(file) || readFileSync(file, 'utf8').trim() === '') writeFileSync(file, '# API tokens: SHA-256 digests only (switchyard token new)\ntokens:\n')
  appendFileSync(file, `  - { name: ${name}, role: ${role}, sha256: ${hashToken(token)} }\n`)
  process.stderr.write(`added ${name} (${role}) to ${file}; the gateway picks it up within a second. The token, shown once:\n`)
  process.stdout.write(`${token}\n`)
  return 0
}
