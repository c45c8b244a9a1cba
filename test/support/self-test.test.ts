import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { expectAccessible, launchBrowser, newPage, screenshot, screenshotsDir } from './browser.ts'
import { HttpSession, csrfFrom, formAction } from './http-client.ts'
import { startTestClient } from './test-client.ts'

// Proves the test helpers on their own, without either service running.

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve(handler: Handler): Promise<{ url: string, close(): Promise<void> }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

function html(body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Self-test</title><link rel="stylesheet" href="/style.css"></head>
<body><main><h1>Self-test</h1>${body}</main></body></html>`
}

describe('browser helpers', () => {
  let browser: Browser
  let site: Awaited<ReturnType<typeof serve>>
  let launchMs = 0
  const documentRequests: string[] = []

  before(async () => {
    const started = Date.now()
    browser = await launchBrowser()
    launchMs = Date.now() - started
    site = await serve((req, res) => {
      if (req.url === '/style.css') {
        res.setHeader('content-type', 'text/css')
        return res.end('body { color: #0b0c0c; background: #ffffff } .faint { color: #bbbbbb }')
      }
      if (req.url === '/favicon.ico') return res.writeHead(404).end()
      documentRequests.push(req.url ?? '')
      res.setHeader('content-type', 'text/html; charset=utf-8')
      const image = '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
      const pages: Record<string, string> = {
        '/': '<p>An accessible page.</p><form action="/next"><label for="name">Name</label><input id="name" name="name"></form>',
        '/missing-alt': image,
        '/noscript-missing-alt': `<noscript>${image}</noscript><p>Content.</p>`,
        '/low-contrast': '<p class="faint">Hard to read.</p>'
      }
      res.end(html(pages[req.url ?? ''] ?? '<p>Not found</p>'))
    })
  })

  after(async () => {
    await browser?.close()
    await site?.close()
  })

  for (const javaScript of [true, false]) {
    const mode = javaScript ? 'with JavaScript' : 'without JavaScript'

    it(`passes an accessible page ${mode}`, async (t) => {
      t.diagnostic(`browser launched in ${launchMs} ms`)
      const page = await newPage(browser, { javaScript })
      await page.goto(`${site.url}/`)
      assert.deepEqual(page.viewportSize(), { width: 1024, height: 800 })
      const requestsBefore = documentRequests.length
      await expectAccessible(page, 'accessible page')
      assert.equal(documentRequests.length, requestsBefore, 'checking does not request the page again')
      await page.context().close()
    })

    it(`rejects an image without alternative text ${mode}, naming the rule and the label`, async () => {
      const page = await newPage(browser, { javaScript })
      await page.goto(`${site.url}/missing-alt`)
      await assert.rejects(expectAccessible(page, 'broken page'), (error: Error) => {
        assert.equal(error.name, 'AssertionError')
        assert.match(error.message, /image-alt \(critical\)/)
        assert.match(error.message, /"broken page"/)
        assert.match(error.message, /\["img"\]/)
        return true
      })
      await page.context().close()
    })

    it(`judges colour contrast on the served stylesheet ${mode}`, async () => {
      const page = await newPage(browser, { javaScript })
      await page.goto(`${site.url}/low-contrast`)
      await assert.rejects(expectAccessible(page, 'low contrast'), /color-contrast/)
      await page.context().close()
    })
  }

  it('checks what a person without JavaScript sees, including noscript content', async () => {
    const withoutScripts = await newPage(browser, { javaScript: false })
    await withoutScripts.goto(`${site.url}/noscript-missing-alt`)
    await assert.rejects(expectAccessible(withoutScripts, 'noscript'), /image-alt/)
    await withoutScripts.context().close()
    const withScripts = await newPage(browser, { javaScript: true })
    await withScripts.goto(`${site.url}/noscript-missing-alt`)
    await expectAccessible(withScripts, 'noscript hidden')
    await withScripts.context().close()
  })

  it('saves full-page screenshots under screenshots/', async () => {
    const page = await newPage(browser, { javaScript: false })
    await page.goto(`${site.url}/`)
    const path = await screenshot(page, 'self-test--support')
    assert.equal(path, `${screenshotsDir}/self-test--support.png`)
    assert.deepEqual([...(await readFile(path)).subarray(1, 4)], [...Buffer.from('PNG')])
    await rm(path)
    await page.context().close()
  })
})

describe('HttpSession', () => {
  let site: Awaited<ReturnType<typeof serve>>

  before(async () => {
    site = await serve((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const cookie = req.headers.cookie ?? ''
      if (url.pathname === '/set') {
        res.setHeader('set-cookie', [
          'session=abc; Path=/; HttpOnly; Secure; SameSite=Lax',
          'scoped=1; Path=/admin',
          'other-host=1; Domain=example.org'
        ])
        res.writeHead(303, { location: '/show' }).end()
      } else if (url.pathname === '/loop') {
        res.writeHead(302, { location: '/loop' }).end()
      } else if (url.pathname === '/clear') {
        res.setHeader('set-cookie', ['session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'scoped=; Path=/admin; Max-Age=0'])
        res.end('cleared')
      } else if (req.method === 'POST') {
        let body = ''
        req.on('data', (chunk: Buffer) => { body += chunk.toString() })
        req.on('end', () => res.end(`${req.headers['content-type']}|${body}|${cookie}`))
      } else {
        res.end(`${url.pathname}|${cookie}|<form method="post" action="/a?x=1&amp;y=2"><input type="hidden" name="_csrf" value="tok&amp;en"></form>`)
      }
    })
  })

  after(() => site?.close())

  it('keeps cookies across manual redirects, honouring Path and ignoring Secure on http', async () => {
    const http = new HttpSession()
    const first = await http.get(`${site.url}/set`)
    assert.equal(first.status, 303)
    const shown = await http.follow(first)
    assert.equal(shown.status, 200)
    assert.equal(shown.url, `${site.url}/show`)
    assert.match(shown.text, /^\/show\|session=abc\|/)
    const admin = await http.get(`${site.url}/admin/users`)
    assert.match(admin.text, /^\/admin\/users\|scoped=1; session=abc\|/)
    assert.equal(http.cookies().length, 2, 'a cookie for another domain is refused')
    const session = http.cookies().find((cookie) => cookie.name === 'session')
    assert.deepEqual([session?.httpOnly, session?.secure, session?.sameSite], [true, true, 'Lax'])
  })

  it('posts url-encoded forms and reads forms back', async () => {
    const http = new HttpSession()
    const page = await http.get(`${site.url}/form`)
    assert.equal(csrfFrom(page.text), 'tok&en')
    assert.equal(formAction(page.text), '/a?x=1&y=2')
    const posted = await http.post(new URL(formAction(page.text), page.url), { _csrf: csrfFrom(page.text), email: 'a b@example.com', absent: undefined })
    assert.equal(posted.text, 'application/x-www-form-urlencoded;charset=UTF-8|_csrf=tok%26en&email=a+b%40example.com|')
  })

  it('deletes cookies by Expires and Max-Age', async () => {
    const http = new HttpSession()
    await http.follow(await http.get(`${site.url}/set`))
    await http.get(`${site.url}/clear`)
    assert.equal(http.cookie('scoped', `${site.url}/admin/`), undefined)
    assert.deepEqual(http.cookies(), [])
  })

  it('stops after 10 redirects', async () => {
    const http = new HttpSession()
    await assert.rejects(http.follow(await http.get(`${site.url}/loop`)), /More than 10 redirects/)
  })
})

describe('test client', () => {
  it('serves its pages on localhost before the provider is reachable', async () => {
    const client = await startTestClient({ issuer: 'http://localhost:9/', clientId: 'test', clientSecret: 'secret' })
    try {
      assert.match(client.url, /^http:\/\/localhost:\d+$/)
      assert.equal(client.redirectUri, `${client.url}/callback`)
      assert.equal(client.postLogoutRedirectUri, `${client.url}/signed-out`)
      const http = new HttpSession()
      const home = await http.get(`${client.url}/`)
      assert.match(home.text, /<a href="\/sign-in">Sign in<\/a>/)
      assert.ok(http.cookie('test-client-session'))
      const signIn = await http.get(`${client.url}/sign-in`)
      assert.equal(signIn.status, 500, 'discovery against a closed port fails plainly')
      const callback = await http.get(`${client.url}/callback?code=x&state=y`)
      assert.equal(callback.status, 400)
      assert.match(callback.text, /id="error"/)
    } finally {
      await client.close()
    }
  })
})
