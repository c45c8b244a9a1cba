import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { DataFolderInUseError, lockDataFolder, lockFileFor } from './data-folder-lock.ts'
import { openDatabase } from './database.ts'

// One process at a time on an embedded data folder: the lock beside it, taken over only
// when the process named in it has gone.
const root = mkdtempSync(path.join(os.tmpdir(), 'data-folder-lock-'))
after(() => rmSync(root, { recursive: true, force: true }))
let folders = 0
const folder = () => path.join(root, `data-${++folders}`, 'signin')

/** A process of our own that stays alive until killed, to stand for "the other service". */
function otherProcess() {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
  return { pid: child.pid!, stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGKILL') }) }
}

function processStart(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

function writeLock(directory: string, holder: { pid: number, processStart?: string, hostname?: string }): void {
  mkdirSync(path.dirname(directory), { recursive: true })
  writeFileSync(lockFileFor(directory), JSON.stringify({
    hostname: os.hostname(), command: 'node src/start.ts', since: '2026-01-01T00:00:00.000Z', token: 'theirs', processStart: undefined, ...holder
  }))
}

test('the lock is a file beside the folder naming this process; a second lock on the same folder is refused; releasing removes it', () => {
  const directory = folder()
  const release = lockDataFolder(directory)
  const file = path.join(path.dirname(directory), 'signin.lock')
  assert.equal(lockFileFor(directory), file)
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid)
  assert.throws(() => lockDataFolder(directory), (error: unknown) => {
    assert.ok(error instanceof DataFolderInUseError)
    assert.match(error.message, new RegExp(`in use by process ${process.pid} `))
    assert.match(error.message, /Stop the other process first/)
    assert.match(error.message, /SIGNIN_DATABASE_URL and PLACEMENTS_DATABASE_URL/)
    assert.match(error.message, new RegExp(`delete ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    return true
  })
  release()
  assert.equal(existsSync(file), false)
  lockDataFolder(directory)()
})

test('a lock held by another running process is refused', async () => {
  const directory = folder()
  const other = otherProcess()
  try {
    writeLock(directory, { pid: other.pid, processStart: processStart(other.pid) })
    assert.throws(() => lockDataFolder(directory), new RegExp(`in use by process ${other.pid} \\(node src/start.ts`))
  } finally {
    await other.stop()
  }
})

test('a lock whose process has gone, or whose pid now belongs to another process, or that a previous life of this pid left, is taken over', async () => {
  const gone = otherProcess()
  await gone.stop()
  const alive = otherProcess()
  try {
    for (const holder of [
      { pid: gone.pid },
      { pid: alive.pid, processStart: '1' }, // the pid was reused since
      { pid: process.pid } // a container restarted: same pid, not this process's lock
    ]) {
      const directory = folder()
      writeLock(directory, holder)
      const release = lockDataFolder(directory)
      assert.equal(JSON.parse(readFileSync(lockFileFor(directory), 'utf8')).token !== 'theirs', true, JSON.stringify(holder))
      release()
    }
  } finally {
    await alive.stop()
  }
})

test('a lock from another machine (a shared folder) cannot be checked, so it is respected', () => {
  const directory = folder()
  writeLock(directory, { pid: 1, hostname: 'another-machine' })
  assert.throws(() => lockDataFolder(directory), /in use by process 1 on another-machine/)
})

test('opening the embedded database takes the lock, and closing it gives it back', async () => {
  const directory = folder()
  const db = await openDatabase({ directory })
  await assert.rejects(openDatabase({ directory }), DataFolderInUseError)
  await db.destroy()
  assert.equal(existsSync(lockFileFor(directory)), false)
  await (await openDatabase({ directory })).destroy()
})
