import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { queueEmail } from '../../src/platform/mail/outbox.ts'
import { startCluster, clusterPassword, type Cluster } from '../support/cluster.ts'
import { csrfFrom, HttpSession, type HttpResponse } from '../support/http-client.ts'
import { signInToPlacements } from '../support/placements-flow.ts'
import { followUntil, isPlacementsCallback, openSigninPage, submitPasswordAndCode } from '../support/sign-in-steps.ts'
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts'

// The promises that used to break only with several nodes, kept by real processes: two
// (or four) nodes of each service on one PostgreSQL and one Redis, every request to the
// next node. Emails go once, a cold start agrees on one signing key, a double-clicked
// first sign-in lets the person in, and simultaneous invitations make one user.
const unique = () => randomBytes(4).toString('hex')
const statusCounts = (responses: HttpResponse[]) => responses.reduce<Record<number, number>>((counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }), {})

describe('two nodes of each service, both sending email', () => {
  let cluster: Cluster
  let sink: SmtpSink
  before(async () => {
    sink = await startSmtpSink()
    const mail = { SMTP_URL: sink.url, MAIL_FROM: 'no-reply@signin.test' }
    cluster = await startCluster({ signinEnv: mail, placementsEnv: mail })
  })
  after(async () => {
    await cluster?.close()
    await sink?.close()
  })

  test('every email is delivered exactly once, though every node runs a delivery worker', async () => {
    const per = 60
    const now = new Date()
    const to = (service: string, i: number) => `once.${service}.${i}.${unique()}@example.com`
    // Written all at once, as a burst of sign-ups and invitations would.
    await Promise.all([
      ...Array.from({ length: per }, (_, i) => queueEmail(cluster.signin.db, { to: to('signin', i), subject: 'Your code', body: `Code ${i}` }, now)),
      ...Array.from({ length: per }, (_, i) => queueEmail(cluster.placements.db, { to: to('placements', i), subject: 'You have been added', body: `Invitation ${i}` }, now))
    ])
    await sink.waitFor(2 * per, 90_000)
    // Time for any second copy to arrive.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const ids = sink.received.map((message) => message.messageId)
    const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i)
    assert.deepEqual(duplicates, [], `${duplicates.length} of ${ids.length} sent twice`)
    assert.equal(sink.received.length, 2 * per)
    const unsent = [
      ...await cluster.signin.db.selectFrom('outbox').select('id').where('sent_at', 'is', null).execute(),
      ...await cluster.placements.db.selectFrom('outbox').select('id').where('sent_at', 'is', null).execute()
    ]
    assert.equal(unsent.length, 0, 'every row is marked sent')
  })
})

describe('four nodes of each service starting together on empty databases', () => {
  let cluster: Cluster
  before(async () => {
    cluster = await startCluster({ signinNodes: 4, placementsNodes: 4, startTogether: true })
  })
  after(() => cluster?.close())

  test('one signing key, the same JWKS on every node, and no node crashed', async () => {
    for (const node of [...cluster.signin.nodes, ...cluster.placements.nodes]) assert.ok(node.running, `${node.service} node ${node.port} is running\n${cluster.output()}`)
    const keys = await cluster.signin.db.selectFrom('signing_keys').select('kid').execute()
    assert.equal(keys.length, 1, `${keys.length} signing keys were made`)
    const published = await Promise.all(cluster.signin.nodes.map(async (node) => JSON.stringify(await (await fetch(`${node.url}/jwks`)).json())))
    assert.equal(new Set(published).size, 1, 'every node publishes the same keys')
    assert.match(published[0]!, new RegExp(keys[0]!.kid))
  })
})

describe('two nodes of each service: simultaneous sign-ins and invitations', () => {
  let cluster: Cluster
  before(async () => {
    cluster = await startCluster()
  })
  after(() => cluster?.close())

  test('6 first sign-ins of one invited person at once (two tabs, a double click): all let in, one sub bound', async () => {
    const email = `double.click.${unique()}@example.com`
    await cluster.addSigninAccount({ email })
    const { userId, organisationId } = await cluster.addPlacementsUser({ email })
    // Each tab proves the password and an emailed code at Sign-in, one after another (a new
    // code replaces the one before it); then all 6 come back to Placements at once.
    const tabs: Array<{ http: HttpSession, callback: URL }> = []
    for (let i = 0; i < 6; i++) {
      const http = new HttpSession()
      const page = await openSigninPage(http, cluster.placements.url)
      tabs.push({ http, callback: await followUntil(http, await submitPasswordAndCode(http, page, email, clusterPassword), isPlacementsCallback(cluster.placements.url)) })
    }
    const pages = await Promise.all(tabs.map(async ({ http, callback }) => http.follow(await http.get(callback))))
    assert.deepEqual(pages.map((page) => new URL(page.url).pathname), Array(6).fill(`/organisations/${organisationId}`), cluster.output())
    const user = await cluster.placements.db.selectFrom('users').select('sign_in_sub').where('id', '=', userId).executeTakeFirstOrThrow()
    const account = await cluster.signin.db.selectFrom('accounts').select('id').where('email_normalised', '=', email).executeTakeFirstOrThrow()
    assert.equal(user.sign_in_sub, account.id)
  })

  test('40 confirmations of one invitation at once: one user, one membership, no 5xx', async () => {
    const member = `inviting.member.${unique()}@example.com`
    await cluster.addSigninAccount({ email: member })
    const { organisationId } = await cluster.addPlacementsUser({ email: member })
    const http = new HttpSession()
    await signInToPlacements(http, cluster.placements.url, member, { password: clusterPassword })
    const invited = `invited.once.${unique()}@example.com`
    const base = `${cluster.placements.url}/organisations/${organisationId}/users`
    const form = await http.get(`${base}/new`)
    const details = await http.post(`${base}/new`, { _csrf: csrfFrom(form.text), givenName: 'Invited', familyName: 'Once', email: invited })
    assert.equal(details.status, 303)
    const check = await http.get(`${base}/check`)
    const responses = await Promise.all(Array.from({ length: 40 }, () => http.post(`${base}/check`, { _csrf: csrfFrom(check.text) })))
    assert.deepEqual(responses.filter((r) => r.status >= 500).map((r) => r.status), [], `${JSON.stringify(statusCounts(responses))}\n${cluster.output()}`)
    const users = await cluster.placements.db.selectFrom('users').select('id').where('email_normalised', '=', invited).execute()
    assert.equal(users.length, 1)
    const memberships = await cluster.placements.db.selectFrom('memberships').select('user_id').where('user_id', '=', users[0]!.id).execute()
    assert.equal(memberships.length, 1)
  })

  test('the same new address invited by 12 organisations at once: one user with 12 memberships, no 5xx', async () => {
    const invited = `invited.everywhere.${unique()}@example.com`
    const members = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const email = `member.${i}.${unique()}@example.com`
      await cluster.addSigninAccount({ email })
      const { organisationId } = await cluster.addPlacementsUser({ email })
      const http = new HttpSession()
      await signInToPlacements(http, cluster.placements.url, email, { password: clusterPassword })
      const base = `${cluster.placements.url}/organisations/${organisationId}/users`
      const form = await http.get(`${base}/new`)
      const details = await http.post(`${base}/new`, { _csrf: csrfFrom(form.text), givenName: 'Invited', familyName: 'Everywhere', email: invited })
      assert.equal(details.status, 303)
      return { http, base, check: await http.get(`${base}/check`) }
    }))
    const responses = await Promise.all(members.map(({ http, base, check }) => http.post(`${base}/check`, { _csrf: csrfFrom(check.text) })))
    assert.deepEqual(statusCounts(responses), { 303: 12 }, cluster.output())
    const users = await cluster.placements.db.selectFrom('users').select('id').where('email_normalised', '=', invited).execute()
    assert.equal(users.length, 1)
    const memberships = await cluster.placements.db.selectFrom('memberships').select('organisation_id').where('user_id', '=', users[0]!.id).execute()
    assert.equal(memberships.length, 12)
  })
})
