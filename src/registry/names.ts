/** Model and version names are folder names, so they must never act as paths. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const MAX_NAME_LENGTH = 128 // characters

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name) && !name.includes('..')
}

/** Natural order, so v2 < v10 and 2026-05-01 < 2026-11-01. */
export function compareVersionNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}
