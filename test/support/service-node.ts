import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitFor } from './backing-servers.ts'
import { stopAtExit } from './teardown.ts'

/**
 * One node of a service as an operator runs it: `node src/start.ts` in its own process,
 * configured only by its environment, stopped by a real signal.
 */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export type ServiceName = 'signin' | 'placements'

export interface NodeExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Date.now() when it exited. */
  at: number
}

export interface ServiceNode {
  readonly service: ServiceName
  readonly port: number
  /** Straight to this node (`http://127.0.0.1:<port>`), not through a proxy. */
  readonly url: string
  readonly pid: number
  readonly process: ChildProcess
  /** Everything it printed (stdout and stderr, the last 256 KiB): attach it to a failing assertion. */
  output(): string
  /** Resolves when the process has exited (it never rejects). */
  readonly exited: Promise<NodeExit>
  readonly running: boolean
  /** Polls `GET /readyz` until it answers 200; fails (with the node's output) after `timeoutMs` or if the node exits. */
  waitUntilReady(timeoutMs?: number): Promise<void>
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<NodeExit>
}

/**
 * Runs one node. `env` is all it gets besides PATH, HOME and the defaults here: nothing
 * leaks from the test process (say, the REDIS_URL of the shared server). `script` runs
 * another entry point instead of src/start.ts (a command, say).
 */
export function spawnServiceNode(options: { service: ServiceName, port: number, env: NodeJS.ProcessEnv, script?: string }): ServiceNode {
  const portSetting = options.service === 'signin' ? 'SIGNIN_PORT' : 'PLACEMENTS_PORT'
  const child = spawn(process.execPath, [options.script ?? 'src/start.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      START: options.service,
      LOG_LEVEL: 'warn',
      ...options.env,
      [portSetting]: String(options.port)
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-256 * 1024)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<NodeExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }))
  })
  const unregister = stopAtExit(() => { child.kill('SIGKILL') })
  void exited.then(unregister)
  const url = `http://127.0.0.1:${options.port}`
  const running = () => child.exitCode === null && child.signalCode === null

  return {
    service: options.service,
    port: options.port,
    url,
    pid: child.pid!,
    process: child,
    output: () => output,
    exited,
    get running() { return running() },
    async waitUntilReady(timeoutMs = 60_000) {
      try {
        await waitFor(`${options.service} node on port ${options.port} to be ready`, async () => {
          if (!running()) throw new Error(`the node exited (${child.exitCode ?? child.signalCode})`)
          const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })
          await response.arrayBuffer()
          return response.status === 200
        }, timeoutMs, 100)
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- node output ---\n${output}`, { cause: error })
      }
    },
    async stop(signal = 'SIGTERM') {
      if (running()) child.kill(signal)
      return exited
    }
  }
}

/** Runs a command (`src/cli/*.ts`) to its end with the given environment: its exit code and output. */
export async function runCommand(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const unregister = stopAtExit(() => { child.kill('SIGKILL') })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  clearTimeout(timer)
  unregister()
  return { code, output }
}
