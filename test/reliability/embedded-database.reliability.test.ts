import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { freePort } from '../support/backing-servers.ts'
import { runCommand, spawnServiceNode, type ServiceNode } from '../support/service-node.ts'

// The embedded database (PGlite) lives in one process's memory and is written back to its
// folder: a second process on the same folder would lose its own writes or the first's.
// So the folder is locked: a second service refuses to start and the commands refuse to
// write, each saying what to do, while the service runs.
const dataDirectory = mkdtempSync(path.join(tmpdir(), 'test-embedded-'))
const env = { NODE_ENV: 'test', DATA_DIR: dataDirectory }
const running: ServiceNode[] = []
after(async () => {
  await Promise.all(running.map((node) => node.stop('SIGKILL')))
  rmSync(dataDirectory, { recursive: true, force: true })
})

async function startSignin(): Promise<ServiceNode> {
  const node = spawnServiceNode({ service: 'signin', port: await freePort(), env })
  running.push(node)
  await node.waitUntilReady()
  return node
}

const register = (clientId: string) => runCommand('src/cli/clients.ts', [
  'register', '--id', clientId, '--name', `Service ${clientId}`,
  '--redirect-uri', `https://${clientId}.example/auth/callback`, '--post-logout-redirect-uri', `https://${clientId}.example/signed-out`
], env)

function assertRefusal(output: string, holder: ServiceNode, what: string): void {
  assert.match(output, new RegExp(`in use by process ${holder.pid}`), what)
  assert.match(output, /Stop the other process first/, what)
  assert.match(output, /SIGNIN_DATABASE_URL/, what)
}

test('a second Sign-in on the same data folder refuses to start, saying which process holds it and what to do; the first runs on', async () => {
  const first = await startSignin()
  const second = spawnServiceNode({ service: 'signin', port: await freePort(), env })
  running.push(second)
  const exit = await second.exited
  assert.equal(exit.code, 1)
  assertRefusal(second.output(), first, 'second node')
  assert.doesNotMatch(second.output(), /is running at/)
  assert.equal((await fetch(`${first.url}/readyz`)).status, 200)
  await first.stop()
})

test('the clients, keys and migrate commands refuse while Sign-in runs (no "Registered" for a write that would be lost), and work once it has stopped', async () => {
  const service = await startSignin()
  const refused = await register('while-running')
  assert.equal(refused.code, 1)
  assertRefusal(refused.output, service, 'clients register')
  assert.doesNotMatch(refused.output, /Registered/)
  for (const [script, args] of [['src/cli/keys.ts', ['rotate']], ['src/cli/migrate.ts', []]] as const) {
    const result = await runCommand(script, [...args], { ...env, START: 'signin' })
    assert.equal(result.code, 1, `${script}: ${result.output}`)
    assertRefusal(result.output, service, script)
  }

  const exit = await service.stop()
  assert.equal(exit.code, 0)
  assert.equal(existsSync(path.join(dataDirectory, 'signin.lock')), false, 'a clean stop releases the lock')
  const registered = await register('while-stopped')
  assert.equal(registered.code, 0, registered.output)
  assert.match(registered.output, /Registered while-stopped/)

  // What the command wrote is there for the service, and survives its restart.
  const restarted = await startSignin()
  await restarted.stop()
  const listed = await runCommand('src/cli/clients.ts', ['list'], env)
  assert.equal(listed.code, 0, listed.output)
  assert.match(listed.output, /while-stopped/)
  assert.doesNotMatch(listed.output, /while-running/)
})

test('a lock left behind by a process that was killed is taken over', async () => {
  const killed = await startSignin()
  await killed.stop('SIGKILL')
  assert.ok(existsSync(path.join(dataDirectory, 'signin.lock')), 'SIGKILL leaves the lock file')
  const next = await startSignin()
  assert.equal((await fetch(`${next.url}/readyz`)).status, 200)
  await next.stop()
})
