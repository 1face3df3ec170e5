/**
 * A port the system has just found free, for a gateway process the test starts. A random port
 * in 20000–40000 once collided with another socket here: that range overlaps Linux's ephemeral
 * ports (32768–60999), which every outgoing connection takes one of.
 */
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}
