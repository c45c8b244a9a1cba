import assert from 'node:assert/strict'
import { test } from 'node:test'
import nunjucks from 'nunjucks'
import { trim } from './views.ts'

/** The `trim` filter replacing Nunjucks' own (docs/performance.md): same answers, safe strings kept safe. */
test('trim removes exactly what Nunjucks’ regular expression removed, whitespace of every kind', () => {
  const samples = ['', '   ', 'a', '  a b  ', '\n\t<p>x</p>\n  \n', '\u00a0\u2028 a \u3000\ufeff', '\u200b a \u200b', 'a\n\n\n']
  for (const sample of samples) assert.equal(trim(sample), sample.replace(/^\s*|\s*$/g, ''), JSON.stringify(sample))
})

test('a safe string stays safe (not escaped again), and a plain one is escaped by the template', () => {
  const env = new nunjucks.Environment(null, { autoescape: true })
  env.addFilter('trim', trim)
  assert.equal(env.renderString('{{ html | safe | trim }}|{{ text | trim }}', { html: '  <b>x</b> ', text: ' <b>y</b>  ' }), '<b>x</b>|&lt;b&gt;y&lt;/b&gt;')
  assert.equal(env.renderString('{{ missing | trim }}.', {}), '.')
})
