import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * `node scripts/bench/profile-summary.ts bench-profiles/signin-postgres`: where a
 * service's CPU went in a `npm run bench -- --cpu-prof` run, from V8's CPU profile
 * (self time, summed, from the first idle second after start-up): by package or
 * project folder, and the top functions.
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function where(url: string): string {
  if (url === '') return '(native, GC, idle)'
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (packageMatch) return packageMatch[1]!
  const project = /\/(src|scripts|test)\/(.*)\/[^/]+$/.exec(url)
  if (project) return `${project[1]}/${project[2]}`
  if (url.startsWith('node:')) return 'node core'
  return url
}

const directory = process.argv[2] ?? 'bench-profiles'
const selfTime = new Map<number, number>()
const nodes = new Map<number, ProfileNode>()
let total = 0
for (const file of readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(path.join(directory, file), 'utf8')) as Profile
  const offset = nodes.size * 10
  for (const node of profile.nodes) nodes.set(node.id + offset * 1_000_000, node)
  // Start-up is not the cost of a request: skip everything before the first second-long
  // idle stretch (the bench waits a second after the service is ready, before its load).
  const idleIds = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id))
  let idleRun = 0
  let from = 0
  for (let i = 0; i < profile.samples.length && from === 0; i++) {
    idleRun = idleIds.has(profile.samples[i]!) ? idleRun + (profile.timeDeltas[i] ?? 0) : 0
    if (idleRun >= 800_000) from = i
  }
  profile.samples.forEach((id, i) => {
    if (i < from) return
    const key = id + offset * 1_000_000
    const delta = profile.timeDeltas[i] ?? 0
    selfTime.set(key, (selfTime.get(key) ?? 0) + delta)
    total += delta
  })
}
const byPlace = new Map<string, number>()
const byFunction = new Map<string, number>()
for (const [id, time] of selfTime) {
  const frame = nodes.get(id)!.callFrame
  if (frame.functionName === '(idle)') continue
  const place = frame.functionName.startsWith('(') ? frame.functionName : where(frame.url)
  byPlace.set(place, (byPlace.get(place) ?? 0) + time)
  const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|scripts)\//, '$1/')}:${frame.lineNumber + 1}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + time)
}
const busy = [...byPlace.values()].reduce((a, b) => a + b, 0)
const show = (map: Map<string, number>, count: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count)
  .map(([name, time]) => `${(time / 1000).toFixed(0).padStart(7)} ms ${(100 * time / busy).toFixed(1).padStart(5)} %  ${name}`).join('\n')
console.warn(`${directory}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy\n\nBy package or folder (self time):\n${show(byPlace, 25)}\n\nTop functions (self time):\n${show(byFunction, 30)}`)
