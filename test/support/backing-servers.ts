import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, globSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { stopAtExit } from './teardown.ts'

/**
 * A PostgreSQL server and a redis-server of the test's own, on free ports, that a test
 * may stop and start again (an outage) without touching the machine's shared servers.
 * Both are removed when the test process ends, whatever happens (teardown.ts).
 */

/** A port nobody is listening on right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Polls `condition` every `intervalMs` until it holds; fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

export interface PostgresServer {
  readonly port: number
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication). */
  url(database?: string): string
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>
  readonly running: boolean
  /** Stops the server (`fast`: connections are told and closed; `immediate`: as if it crashed). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>
  /** Stops it for good and deletes its files. */
  destroy(): Promise<void>
}

/**
 * initdb refuses to run as root (as CI and this machine do), so when we are root every
 * PostgreSQL command runs as the `postgres` user, in a temporary folder it owns.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinaries()
  const asRoot = process.getuid?.() === 0
  const owner = asRoot ? postgresUser() : undefined
  const directory = mkdtempSync(path.join(tmpdir(), 'test-postgres-'))
  if (owner) chownSync(directory, owner.uid, owner.gid)
  const data = path.join(directory, 'data')
  const port = await freePort()
  const run = (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
    const result = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000 })
    if (result.status !== 0) throw new Error(`${path.basename(command)} failed: ${result.stderr || result.stdout || result.error}`)
  }
  run(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  // Durability settings off: this server's data lives only as long as the test.
  const options = `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  const ctl = (args: string[]) => run(bin('pg_ctl'), ['-D', data, ...args])
  let running = false
  const start = async () => {
    ctl(['-o', options, '-l', path.join(directory, 'server.log'), '-w', '-t', '60', 'start'])
    running = true
  }
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return
    ctl(['-m', mode, '-w', '-t', '60', 'stop'])
    running = false
  }
  const unregister = stopAtExit(() => {
    if (running) spawnSync(asRoot ? 'runuser' : bin('pg_ctl'), [...(asRoot ? ['-u', 'postgres', '--', bin('pg_ctl')] : []), '-D', data, '-m', 'immediate', '-w', 'stop'])
    rmSync(directory, { recursive: true, force: true })
  })
  await start()
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`
  return {
    port,
    url,
    get running() { return running },
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: url() })
      await admin.connect()
      try {
        await admin.query(`create database ${pg.escapeIdentifier(name)}`)
      } finally {
        await admin.end()
      }
      return url(name)
    },
    stop,
    start,
    async destroy() {
      await stop('immediate')
      rmSync(directory, { recursive: true, force: true })
      unregister()
    }
  }
}

function postgresBinaries(): (name: string) => string {
  const fromEnv = process.env.PG_BIN
  const directory = fromEnv ?? globSync('/usr/lib/postgresql/*/bin')
    .sort((a, b) => Number(b.split('/').at(-2)) - Number(a.split('/').at(-2)))[0]
  if (!directory) throw new Error('No PostgreSQL server binaries: install postgresql, or set PG_BIN to the folder holding initdb and pg_ctl')
  return (name) => path.join(directory, name)
}

function postgresUser(): { uid: number, gid: number } {
  const result = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (result.status !== 0 || group.status !== 0) throw new Error('Running as root needs a "postgres" user to run initdb and pg_ctl as')
  return { uid: Number(result.stdout.trim()), gid: Number(group.stdout.trim()) }
}

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly running: boolean
  /** Stops it: `SIGTERM` shuts down cleanly, `SIGKILL` as if it crashed. Its data is not kept. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
  destroy(): Promise<void>
}

/** A redis-server on a free port, without persistence (a restart starts empty). */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    child = started
    const spawnFailed = new Promise<never>((_, reject) => started.once('error', reject))
    await Promise.race([spawnFailed, waitFor(`redis-server on port ${port}`, () => ping(port), 15_000, 20)])
  }
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const running = child
    if (!running || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill(signal)
    await exited
    child = undefined
  }
  const unregister = stopAtExit(() => { child?.kill('SIGKILL') })
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() { return child !== undefined && child.exitCode === null && child.signalCode === null },
    stop,
    start,
    async destroy() {
      await stop('SIGKILL')
      unregister()
    }
  }
}

/** True when a Redis server answers PING on the port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (answer: boolean) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
  })
}
