/**
 * switchyard models | stage request|approve|reject|cancel|list | activity | token new
 *
 * The lifecycle from the command line, against a running gateway (client.ts), printing
 * readable tables; `token new` writes a token's hash to tokens.yaml and prints the token once.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { hashToken, newToken, tokenNamesIn } from '../auth/tokens.js'
import { ROLES } from '../lifecycle/roles.js'
import type { ActivityEntry, StageRequest } from '../lifecycle/operations.js'
import { call, clientFromEnv, gatewayCommand, guarded, table } from './client.js'
import { exitWith, groupOf, reader } from './command.js'

const STATUSES = ['pending', 'approved', 'rejected', 'cancelled', 'all']

const printRequests = (requests: StageRequest[]) => process.stdout.write(table(
  ['ID', 'MODEL', 'VERSION', 'FROM', 'TO', 'STATUS', 'REQUESTER', 'DECIDED BY', 'SKIPS', 'COMMENT'],
  requests.map((r) => [r.id, r.model, r.version, r.from_stage, r.to_stage, r.status, r.requester, r.decided_by, r.skipped.join(','), r.comment]),
))

export function modelsCommand(): Command {
  return gatewayCommand('models', 'the versions of every model with their stage, lock, state and label')
    .option('--model <model>', 'only this model')
    .action(exitWith(async (values: { model?: string; url?: string }) => {
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
    }))
}

export function stageCommand(): Command {
  const stage = new Command('stage').description('request, approve, reject, cancel or list stage changes (two-person approval)')
  stage.addCommand(gatewayCommand('request', 'ask for a version to move to a stage; a different approver must approve it')
    .argument('<model>').argument('<version>').argument('<stage>', 'Development, Staging, Production or Archived')
    .option('--comment <text>', 'why')
    .action(exitWith(async (model: string, version: string, to: string, values: { comment?: string; url?: string }) => guarded(async () => {
      const { request, flagged } = await call<{ request: StageRequest; flagged: string | null }>(clientFromEnv(values.url), 'POST',
        `/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/stage-requests`, { stage: to, comment: values.comment })
      printRequests([request])
      if (flagged) process.stdout.write(`note: this request ${flagged}\n`)
      process.stdout.write(`a different person with the approver role must approve it: switchyard stage approve ${request.id}\n`)
      return 0
    }))))
  for (const action of ['approve', 'reject', 'cancel'] as const) {
    stage.addCommand(gatewayCommand(action, `${action} a pending request (its id is in switchyard stage list)`)
      .argument('<request-id>').option('--comment <text>', 'why')
      .action(exitWith(async (id: string, values: { comment?: string; url?: string }) => guarded(async () => {
        const { request } = await call<{ request: StageRequest }>(clientFromEnv(values.url), 'POST', `/v1/stage-requests/${encodeURIComponent(id)}/${action}`, { comment: values.comment })
        printRequests([request])
        return 0
      }))))
  }
  stage.addCommand(gatewayCommand('list', 'stage requests, pending ones by default')
    .option('--model <model>', 'only this model')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(STATUSES))
    .action(exitWith(async (values: { model?: string; status?: string; url?: string }) => guarded(async () => {
      const q = new URLSearchParams()
      if (values.model) q.set('model', values.model)
      if (values.status) q.set('status', values.status)
      printRequests((await call<{ requests: StageRequest[] }>(clientFromEnv(values.url), 'GET', `/v1/stage-requests?${q}`)).requests)
      return 0
    }))))
  return groupOf(stage)
}

const positiveInteger = (text: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`must be a positive integer, got '${text}'`)
  return n
}

export function activityCommand(): Command {
  return gatewayCommand('activity', 'the activity log: stage changes, locks, routes applied and rejected, versions loaded')
    .option('--model <model>', 'only this model')
    .option('--since <time>', 'from this time on (ISO 8601)')
    .option('--limit <n>', 'at most this many entries', reader(positiveInteger))
    .action(exitWith(async (values: { model?: string; since?: string; limit?: number; url?: string }) => guarded(async () => {
      const q = new URLSearchParams()
      if (values.model) q.set('model', values.model)
      if (values.since) q.set('since', values.since)
      if (values.limit) q.set('limit', String(values.limit))
      const { activity } = await call<{ activity: ActivityEntry[] }>(clientFromEnv(values.url), 'GET', `/v1/activity?${q}`)
      process.stdout.write(table(['AT', 'WHO', 'WHAT', 'MODEL', 'VERSION', 'DETAIL', 'COMMENT'],
        activity.map((a) => [a.at, a.actor, a.kind, a.model, a.version, a.detail === null ? null : JSON.stringify(a.detail).slice(0, 80), a.comment])))
      return 0
    })))
}

const tokenName = (name: string): string => {
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) throw new Error('must be 1 to 64 letters, digits or _.@-')
  return name
}

export function tokenCommand(): Command {
  const token = new Command('token').description('API tokens')
  token.addCommand(new Command('new')
    .description('create a token: its SHA-256 digest goes to the tokens file, the token is printed once')
    .requiredOption('--name <name>', 'who holds it (1 to 64 letters, digits or _.@-)', reader(tokenName))
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .option('--file <file>', 'the tokens file (SWITCHYARD_TOKENS_FILE, default tokens.yaml)')
    .action(exitWith(async (values: { name: string; role: string; file?: string }) => {
      const file = values.file ?? process.env.SWITCHYARD_TOKENS_FILE ?? 'tokens.yaml'
      const taken = tokenNamesIn(file).find((n) => n.toLowerCase() === values.name.toLowerCase())
      if (taken !== undefined) {
        process.stderr.write(`switchyard token new: ${file} already has a token named '${taken}' (names are people, compared without case); to replace it, remove its line first\n`)
        return 1
      }
      const secret = newToken()
      if (!existsSync(file) || readFileSync(file, 'utf8').trim() === '') writeFileSync(file, '# API tokens: SHA-256 digests only (switchyard token new)\ntokens:\n')
      appendFileSync(file, `  - { name: ${values.name}, role: ${values.role}, sha256: ${hashToken(secret)} }\n`)
      process.stderr.write(`added ${values.name} (${values.role}) to ${file}; a running gateway knows it from its first use. The token, shown once:\n`)
      process.stdout.write(`${secret}\n`)
      return 0
    })))
  return groupOf(token)
}
