/**
 * A lingering close for a refused body (issue #13), as nginx's `lingering_close` does it.
 *
 * A client that does not wait for `100-continue` (Python's urllib and requests) sends its whole
 * body before it reads the answer. If the gateway closed the socket as soon as it refused the
 * body, the kernel would answer the bytes still arriving with a reset: the client's write fails
 * with a broken pipe and it never reads the 413. So the answer is written, the rest of the body
 * is read and thrown away, and only then is the answer ended, which closes the connection (the
 * answer says `Connection: close`). The wait is bounded in time and in bytes.
 */
import type { ServerResponse } from 'node:http'

const LINGER_MAX_MS = 5_000 // 5 s: then the connection is closed, whatever is still coming
const LINGER_MAX_BYTES = 128 * 1024 * 1024 // 128 MiB of body read and discarded, at most

/**
 * End `res`, whose answer is already written whole, once the rest of its request body has been
 * read and discarded; cut the connection off after LINGER_MAX_MS or LINGER_MAX_BYTES.
 */
export function endAfterDiscardingBody(res: ServerResponse): void {
  const req = res.req
  if (req.complete) {
    res.end()
    return
  }
  const socket = req.socket
  let discardedBytes = 0
  const stop = (): void => {
    clearTimeout(timer)
    req.off('data', onData)
    req.off('end', onEnd)
  }
  const onEnd = (): void => {
    stop()
    res.end()
  }
  const cutOff = (): void => {
    stop()
    res.end()
    socket.destroy()
  }
  const onData = (chunk: Buffer): void => {
    discardedBytes += chunk.length
    if (discardedBytes > LINGER_MAX_BYTES) cutOff()
  }
  const timer = setTimeout(cutOff, LINGER_MAX_MS)
  req.on('data', onData)
  req.on('end', onEnd)
  res.once('close', stop) // the client went away first
  req.resume() // a body refused by its Content-Length was never started
}
