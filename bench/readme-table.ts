/**
 * The speed tables are written by the benches that measure them, so that figures are never
 * pasted by hand: a full `npm run bench` replaces what stands between each table's two markers
 * (the hot path's `speed table` in README.md, bench/run.ts; the heavy model's `heavy table` in
 * bench/README.md, bench/heavy.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs'

export type TableName = 'speed' | 'heavy'

export function tableMarkers(name: TableName): { start: string; end: string } {
  return { start: `<!-- ${name} table: written by npm run bench, do not edit -->`, end: `<!-- end of ${name} table -->` }
}

/** Replace the README's table `name` with `table`; throws when its markers are missing, so a moved table is noticed. */
export function writeReadmeTable(readmePath: string, table: string, name: TableName = 'speed'): void {
  const text = readFileSync(readmePath, 'utf8')
  const { start: startMarker, end: endMarker } = tableMarkers(name)
  const start = text.indexOf(startMarker)
  const end = text.indexOf(endMarker)
  if (start === -1 || end < start) throw new Error(`${readmePath} has no ${name} table markers (${startMarker} ... ${endMarker})`)
  writeFileSync(readmePath, `${text.slice(0, start + startMarker.length)}\n${table.trim()}\n${text.slice(end)}`)
}
