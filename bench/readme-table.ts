/**
 * The README's speed table is written by the bench that measures it, so that figures are
 * never pasted by hand: a full `npm run bench` replaces what stands between the two markers.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export const TABLE_START = '<!-- speed table: written by npm run bench, do not edit -->'
export const TABLE_END = '<!-- end of speed table -->'

/** Replace the README's table with `table`; throws when the markers are missing, so a moved table is noticed. */
export function writeReadmeTable(readmePath: string, table: string): void {
  const text = readFileSync(readmePath, 'utf8')
  const start = text.indexOf(TABLE_START)
  const end = text.indexOf(TABLE_END)
  if (start === -1 || end < start) throw new Error(`${readmePath} has no speed table markers (${TABLE_START} ... ${TABLE_END})`)
  writeFileSync(readmePath, `${text.slice(0, start + TABLE_START.length)}\n${table.trim()}\n${text.slice(end)}`)
}
