/**
 * Who is calling, and may they: `Authorization: Bearer <token>` → identity → permission.
 * 401 when there is no token or it is not a configured one; 403 when the identity's role
 * lacks the permission. With `--no-auth` every caller is `anonymous` with the admin role
 * (for local development; two-person approval cannot work then).
 */
import type { IncomingMessage } from 'node:http'
import type { NextFunction, Request, Response } from 'express'
import { gatewayError } from '../errors.js'
import { may } from '../lifecycle/roles.js'
import type { Permission } from '../lifecycle/roles.js'
import type { Identity, TokenStore } from './tokens.js'

export const ANONYMOUS: Identity = Object.freeze({ name: 'anonymous', role: 'admin' })

export class Guard {
  readonly #tokens: TokenStore | null

  /** `tokens` null: authentication is off. */
  constructor(tokens: TokenStore | null) {
    this.#tokens = tokens
  }

  get enabled(): boolean {
    return this.#tokens !== null
  }

  /** The caller's identity, or throws AUTH_REQUIRED / AUTH_INVALID / FORBIDDEN. */
  check(req: IncomingMessage, permission: Permission): Identity {
    return this.checkAuthorization(req.headers.authorization, permission)
  }

  /** The same for an `authorization` value that did not come as an HTTP header (gRPC metadata). */
  checkAuthorization(header: string | undefined, permission: Permission): Identity {
    if (this.#tokens === null) return ANONYMOUS
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (match === null) throw gatewayError('AUTH_REQUIRED', this.#tokens.configured)
    const identity = this.#tokens.identify(match[1])
    if (identity === null) throw gatewayError('AUTH_INVALID')
    if (!may(identity.role, permission)) throw gatewayError('FORBIDDEN', identity.name, identity.role, permission)
    return identity
  }

  /** Express middleware: sets res.locals.identity. */
  require(permission: Permission) {
    return (req: Request, res: Response, next: NextFunction): void => {
      res.locals.identity = this.check(req, permission)
      next()
    }
  }
}
