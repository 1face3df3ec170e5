/**
 * Reading a file a person edits (routes.yaml, model.yaml, version.yaml) without being held up
 * by what may stand in its place: a FIFO would block a read for ever, a directory (what
 * `docker -v` makes of a missing host file) or a symlink loop would throw mid-reload. The
 * file is opened without blocking and checked on its descriptor, so a swap between a check
 * and the read cannot slip through.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

export type RegularFileRead =
  | { ok: true; text: string }
  | { ok: false; isMissing: boolean; reason: string }

export async function readRegularFile(path: string, maxBytes: number): Promise<RegularFileRead> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    return failure(err)
  }
  try {
    const info = await handle.stat()
    if (info.isDirectory()) return { ok: false, isMissing: false, reason: 'it is a directory, not a file (a container runtime makes one where a mounted file does not exist)' }
    if (!info.isFile()) return { ok: false, isMissing: false, reason: 'it is not a regular file' }
    if (info.size > maxBytes) return { ok: false, isMissing: false, reason: `it is ${info.size} bytes, over the limit of ${maxBytes}` }
    return { ok: true, text: await handle.readFile('utf8') }
  } catch (err) {
    return failure(err)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

function failure(err: unknown): RegularFileRead {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'ENOENT': return { ok: false, isMissing: true, reason: 'it does not exist' }
    case 'ELOOP': return { ok: false, isMissing: false, reason: 'it is a loop of symbolic links' }
    case 'EACCES': case 'EPERM': return { ok: false, isMissing: false, reason: 'this user may not read it' }
    case 'EISDIR': return { ok: false, isMissing: false, reason: 'it is a directory, not a file' }
    default: return { ok: false, isMissing: false, reason: `it cannot be read (${code ?? (err as Error).message})` }
  }
}
