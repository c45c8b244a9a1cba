import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * One process at a time on an embedded (PGlite) data folder. PGlite keeps the database
 * in its own memory and writes it back to the folder: a second process on the same
 * folder sees a stale copy, and whatever one of them writes is lost when the other
 * writes back. So the folder is locked before it is opened: a lock file beside it
 * (`data/signin.lock` for `data/signin`) naming the process that holds it. A lock whose
 * process has gone (crashed, killed, the machine restarted) is stale and taken over.
 */
export interface LockHolder {
  pid: number
  hostname: string
  /** Linux: the process's start time (/proc/<pid>/stat), so a reused pid is not mistaken for the holder. */
  processStart: string | undefined
  command: string
  since: string
  token: string
}

export class DataFolderInUseError extends Error {
  readonly holder: LockHolder | undefined
  readonly directory: string
  readonly lockFile: string
  constructor(directory: string, lockFile: string, holder: LockHolder | undefined) {
    const who = holder
      ? `process ${holder.pid}${holder.hostname === os.hostname() ? '' : ` on ${holder.hostname}`} (${holder.command}, since ${holder.since})`
      : 'another process'
    super([
      `The embedded database in ${directory} is in use by ${who}.`,
      'Two processes on one embedded database lose each other\'s changes, so this one has not opened it.',
      'Stop the other process first (the service, or a command still running), then try again.',
      'To run several processes at once (nodes, or commands beside a running service), use a PostgreSQL server:',
      'set SIGNIN_DATABASE_URL and PLACEMENTS_DATABASE_URL.',
      `If you are sure no such process is running, delete ${lockFile}.`
    ].join('\n'))
    this.name = 'DataFolderInUseError'
    this.holder = holder
    this.directory = directory
    this.lockFile = lockFile
  }
}

/** Locks held by this process, released on exit even if the database is never closed. */
const held = new Set<string>()
process.on('exit', () => {
  for (const file of held) fs.rmSync(file, { force: true })
})

export function lockFileFor(directory: string): string {
  const resolved = path.resolve(directory)
  return path.join(path.dirname(resolved), `${path.basename(resolved)}.lock`)
}

/** Takes the lock or throws DataFolderInUseError; returns the function that releases it. */
export function lockDataFolder(directory: string): () => void {
  const lockFile = lockFileFor(directory)
  fs.mkdirSync(path.dirname(lockFile), { recursive: true })
  const me: LockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    processStart: processStartTime(process.pid),
    command: process.argv.slice(1).map((arg) => path.relative(process.cwd(), arg) || arg).join(' ').slice(0, 200) || 'node',
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex')
  }
  // Written whole to a temporary file, then linked into place: link fails if the lock
  // exists, and nobody ever reads a half-written lock.
  const temporary = `${lockFile}.${me.token}`
  fs.writeFileSync(temporary, JSON.stringify(me))
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(temporary, lockFile)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const holder = readHolder(lockFile)
        if (attempt > 0 || (holder && holderIsAlive(holder, lockFile))) throw new DataFolderInUseError(path.resolve(directory), lockFile, holder)
        // The holder is gone: the lock is stale.
        fs.rmSync(lockFile, { force: true })
      }
    }
  } finally {
    fs.rmSync(temporary, { force: true })
  }
  held.add(lockFile)
  return function release() {
    if (!held.delete(lockFile)) return
    if (readHolder(lockFile)?.token === me.token) fs.rmSync(lockFile, { force: true })
  }
}

function readHolder(lockFile: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as Partial<LockHolder>
    return typeof parsed.pid === 'number' && typeof parsed.token === 'string' ? parsed as LockHolder : undefined
  } catch {
    return undefined
  }
}

function holderIsAlive(holder: LockHolder, lockFile: string): boolean {
  // Another machine's process (a shared folder) cannot be checked from here.
  if (holder.hostname !== os.hostname()) return true
  if (holder.pid === process.pid) {
    // This very process holds it (a second open of the same folder), or a previous life of
    // this pid (a container restarted) left it behind.
    return held.has(lockFile)
  }
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  const start = processStartTime(holder.pid)
  return !(start && holder.processStart && start !== holder.processStart)
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
