import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { stopAtExit } from './teardown.ts'

/**
 * A load balancer in miniature, as an operator runs haproxy in front of several nodes:
 * one public URL (so one issuer, one redirect URI), each request to the next node in
 * turn. Like haproxy with `retries` and `option redispatch`, a request whose node
 * refuses the connection (stopped, draining) goes to the next one; any other failure is
 * passed on as a 502, so a test sees it. Connections to nodes are not reused.
 */
export interface RoundRobinProxy {
  /** `http://localhost:<port>`: what people and services use. */
  readonly url: string
  /** The nodes, in turn (their direct URLs); change them at any time. */
  targets: string[]
  /** How many requests each node has answered through the proxy. */
  readonly answeredBy: Map<string, number>
  /** Requests no node could take (every node refused), and upstream failures passed on as 502. */
  readonly failures: number
  close(): Promise<void>
}

export async function startRoundRobinProxy(targets: string[] = [], port = 0): Promise<RoundRobinProxy> {
  let next = 0
  let failures = 0
  const answeredBy = new Map<string, number>()
  const proxy: RoundRobinProxy = {
    url: '',
    targets: [...targets],
    answeredBy,
    get failures() { return failures },
    close: async () => {}
  }

  const server = http.createServer(async (req, res) => {
    // The body is read first so that it can be sent again to another node.
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const order = proxy.targets.length
    for (let attempt = 0; attempt < order; attempt++) {
      const target = proxy.targets[next++ % proxy.targets.length]!
      const outcome = await forward(target, req, body, res)
      if (outcome === 'answered') {
        answeredBy.set(target, (answeredBy.get(target) ?? 0) + 1)
        return
      }
      if (outcome === 'failed') {
        failures++
        return
      }
    }
    failures++
    res.writeHead(503, { 'content-type': 'text/plain' }).end('No node accepted the connection')
  })
  // As a real load balancer: idle client connections are kept a while, never forever.
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const unregister = stopAtExit(() => server.closeAllConnections())
  Object.assign(proxy, {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    async close() {
      unregister()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
  return proxy
}

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

/** 'refused': the node took no connection (try another); 'failed': it took the request and then broke. */
function forward(target: string, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<'answered' | 'refused' | 'failed'> {
  return new Promise((resolve) => {
    const url = new URL(req.url ?? '/', target)
    const headers: http.OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(req.headers)) if (!hopByHop.has(name) && value !== undefined) headers[name] = value
    headers['content-length'] = String(body.length)
    let connected = false
    const upstream = http.request(url, { method: req.method, headers, agent: false }, (answer) => {
      const out: string[] = []
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!hopByHop.has(answer.rawHeaders[i]!.toLowerCase())) out.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!)
      }
      res.writeHead(answer.statusCode ?? 502, out)
      answer.pipe(res)
      answer.once('end', () => resolve('answered'))
      answer.once('error', () => {
        res.destroy()
        resolve('failed')
      })
    })
    upstream.once('socket', (socket) => socket.once('connect', () => { connected = true }))
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (!connected && error.code === 'ECONNREFUSED') return resolve('refused')
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`Upstream ${target} failed: ${error.code ?? error.message}`)
      else res.destroy()
      resolve('failed')
    })
    upstream.end(body)
  })
}
