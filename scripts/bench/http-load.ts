import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

/**
 * A small keep-alive HTTP/1.1 load generator (like `wrk -c8`): `connections` sockets, each
 * sending one GET, reading the whole response (Content-Length or chunked), then the next.
 * Raw sockets rather than Node's http client, so that the load process is never the
 * bottleneck against a server answering tens of thousands of requests a second.
 * Every response must have the expected status; latencies are kept for percentiles.
 */
export interface LoadResult {
  requests: number
  seconds: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  wrongStatus: number
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

export async function httpLoad(options: { url: string, headers?: Record<string, string>, connections: number, requests?: number, durationMs?: number, expectStatus?: number }): Promise<LoadResult> {
  const target = new URL(options.url)
  const head = [`GET ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`, 'Connection: keep-alive',
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`)].join('\r\n') + '\r\n\r\n'
  const request = Buffer.from(head)
  const expectStatus = options.expectStatus ?? 200
  const latencies: number[] = []
  let started = 0
  let wrongStatus = 0
  const begun = performance.now()
  const deadline = options.durationMs === undefined ? Infinity : begun + options.durationMs
  const more = () => (options.requests === undefined || started < options.requests) && performance.now() < deadline

  const oneConnection = () => new Promise<void>((resolve, reject) => {
    const socket: Socket = connect(Number(target.port || 80), target.hostname === 'localhost' ? '127.0.0.1' : target.hostname)
    socket.setNoDelay(true)
    let buffer: Buffer = Buffer.alloc(0)
    let sentAt = 0
    const send = () => {
      if (!more()) { socket.end(); resolve(); return }
      started++
      sentAt = performance.now()
      socket.write(request)
    }
    socket.on('connect', send)
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      const end = buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const headers = buffer.subarray(0, end).toString('latin1')
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers)
      let total: number
      if (length) {
        total = end + 4 + Number(length[1])
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(headers)) {
        const last = buffer.indexOf('\r\n0\r\n\r\n', end)
        if (last < 0) return
        total = last + 7
      } else {
        reject(new Error(`A response without a length: ${headers.split('\r\n')[0]}`))
        return
      }
      if (buffer.length < total) return
      if (Number(headers.slice(9, 12)) !== expectStatus) wrongStatus++
      latencies.push(performance.now() - sentAt)
      buffer = buffer.subarray(total)
      send()
    })
  })
  await Promise.all(Array.from({ length: options.connections }, oneConnection))
  const seconds = (performance.now() - begun) / 1000
  latencies.sort((a, b) => a - b)
  return { requests: latencies.length, seconds, perSecond: latencies.length / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), wrongStatus }
}
