/**
 * The config worker's entry: checks routes.yaml texts off the request thread, so that a large
 * or hostile file (a megabyte of routes, an alias bomb) never holds up a request. Parsing
 * 300 KB of YAML took 1.1 s on the request thread.
 */
import { parentPort } from 'node:worker_threads'
import { catalogFromSnapshot, checkRoutesSource } from './routes-check.js'
import type { CheckOutcome } from './routes-check.js'
import type { FromChecker, ToChecker } from './routes-checker.js'

parentPort!.on('message', (message: ToChecker) => {
  switch (message.code) {
    case 'CHECK': {
      let outcome: CheckOutcome
      try {
        outcome = checkRoutesSource(message.source, catalogFromSnapshot(message.catalog))
      } catch (err) {
        outcome = { ok: false, problems: [{ path: '', line: null, column: null, message: `the file could not be checked: ${(err as Error).message}` }] }
      }
      parentPort!.postMessage({ code: 'CHECKED', id: message.id, outcome } satisfies FromChecker)
      break
    }
    default:
      throw new Error(`the config worker got an unknown message: ${JSON.stringify(message)}`)
  }
})
