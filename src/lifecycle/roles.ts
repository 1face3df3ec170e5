/**
 * Roles and what each may do. A token has one role; a request needs one permission.
 *
 *   viewer    read: catalog, stages, requests, activity, routes, inferences, comparisons
 *   predictor predict (when prediction needs a token), send inferences made elsewhere, post ground truth
 *   editor    read, request and cancel stage changes, reload routes, rescan models
 *   approver  everything an editor may, and approve or reject another person's request
 *   admin     everything, and lock or unlock versions, roll routes back, load and unload models
 */
export const ROLES = ['viewer', 'predictor', 'editor', 'approver', 'admin'] as const
export type Role = (typeof ROLES)[number]

export const PERMISSIONS = ['read', 'predict', 'send-inferences', 'ground-truth', 'request', 'approve', 'reload', 'lock', 'rollback', 'load'] as const
export type Permission = (typeof PERMISSIONS)[number]

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  predictor: ['predict', 'send-inferences', 'ground-truth'],
  editor: ['read', 'request', 'reload'],
  approver: ['read', 'request', 'approve', 'reload'],
  admin: PERMISSIONS,
}

export function may(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission)
}
