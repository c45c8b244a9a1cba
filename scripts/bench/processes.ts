import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { repoRoot } from '../../test/support/service-node.ts'

/**
 * Processes of `npm run bench`, each pinned to one core with `taskset -c <core>` (which
 * execs node, so the pid is node's own and its RSS can be read from /proc).
 */
export interface Pinned {
  child: ChildProcess
  output(): string
  /** Resolves with what it printed on stdout, when it exits with 0. */
  finished: Promise<string>
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
process.on('exit', () => { for (const child of running) child.kill('SIGKILL') })

export function runPinned(core: number, args: string[], env: NodeJS.ProcessEnv, extraNodeFlags: string[] = []): Pinned {
  const child = spawn('taskset', ['-c', String(core), process.execPath, ...extraNodeFlags, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  running.add(child)
  let stdout = ''
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); output = (output + chunk.toString()).slice(-64 * 1024) })
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-64 * 1024) })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { running.delete(child); resolve(code) }))
  const finished = exited.then((code) => {
    if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}:\n${output}`)
    return stdout
  })
  finished.catch(() => {})
  return {
    child,
    output: () => output,
    finished,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    }
  }
}

/**
 * How `npm start` runs a service, from package.json's start script: its environment
 * (`MALLOC_ARENA_MAX=2`), Node flags (`--max-semi-space-size=2` …) and entry point
 * (scripts/start.js, which runs the build in dist/), so the bench measures the services
 * as an operator runs them (docs/operations.md, Memory).
 */
export function startScript(): { env: Record<string, string>, nodeFlags: string[], entry: string } {
  const script = (JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start
  const words = script.split(/\s+/)
  const node = words.indexOf('node')
  const entry = words.findIndex((word, i) => i > node && !word.startsWith('-'))
  if (node < 0 || entry !== words.length - 1) throw new Error(`package.json's start script is not "[NAME=value …] node [flags …] <entry>": ${script}`)
  const env = Object.fromEntries(words.slice(0, node).map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]))
  return { env, nodeFlags: words.slice(node + 1, entry), entry: words[entry]! }
}

/** Resident set size of a process, in MB (VmRSS). */
export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS')
}

/** The most RSS a process has had so far (the kernel's high-water mark), in MB. */
export function peakRssMb(pid: number): number {
  return statusMb(pid, 'VmHWM')
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1])
  return kb / 1024
}

/**
 * A service's RSS once it has settled after start: sampled every 250 ms from a second after
 * it is ready, until two samples a second apart differ by less than 2 MB (at most 15 s). On
 * PGlite, V8 tiers up a large WebAssembly function a second or so after the first queries,
 * holding a few hundred MB for about a second: that is start-up (reported as the peak), not idle.
 */
export async function settledRssMb(pid: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const samples = [rssMb(pid)]
  for (let waited = 0; waited < 14_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    samples.push(rssMb(pid))
    if (samples.length > 4 && Math.abs(samples.at(-1)! - samples.at(-5)!) < 2) break
  }
  return samples.at(-1)!
}

/**
 * CPU time a process has used so far (user + system, all its threads: the hashing pool
 * too), in ms. Rates on a shared core vary with whatever else runs on it; CPU time per
 * operation much less, so the ratios are taken from it.
 */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Polls a URL until it answers 200 (or the process exits): the milliseconds it took. */
export async function waitUntilAnswers(url: string, process: Pinned, timeoutMs = 60_000): Promise<number> {
  const begun = Date.now()
  while (Date.now() - begun < timeoutMs) {
    if (process.child.exitCode !== null) throw new Error(`exited before answering ${url}:\n${process.output()}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status === 200) return Date.now() - begun
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${process.output()}`)
}

/** Waits until a process prints `ready` on stderr. */
export async function waitForReady(pinned: Pinned, timeoutMs = 30_000): Promise<void> {
  const begun = Date.now()
  while (!/\bready\b/.test(pinned.output())) {
    if (pinned.child.exitCode !== null) throw new Error(`exited before it was ready:\n${pinned.output()}`)
    if (Date.now() - begun > timeoutMs) throw new Error(`not ready within ${timeoutMs} ms:\n${pinned.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
