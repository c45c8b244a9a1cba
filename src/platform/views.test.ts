import assert from 'node:assert/strict'
import { test } from 'node:test'
import nunjucks from 'nunjucks'
import { keepImportedMacros, RenderOnce, trim } from './views.ts'

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

/** `{% renderonce %}` (the page chrome): rendered at its first use, the same HTML ever after. */
function renderOnceTemplate(keep: boolean) {
  const env = new nunjucks.Environment(null, { autoescape: true })
  env.addExtension('RenderOnce', new RenderOnce(keep))
  return new nunjucks.Template('{% renderonce %}<b>{{ n }}</b>{% endrenderonce %}{% renderonce %}<i>{{ n }}</i>{% endrenderonce %}|{{ n }}', env)
}

test('each renderonce site keeps what it rendered first, escaped once, apart from the other sites', () => {
  const template = renderOnceTemplate(true)
  assert.equal(template.render({ n: '<1>' }), '<b>&lt;1&gt;</b><i>&lt;1&gt;</i>|&lt;1&gt;')
  assert.equal(template.render({ n: 2 }), '<b>&lt;1&gt;</b><i>&lt;1&gt;</i>|2')
})

test('with templates reloaded, renderonce keeps nothing', () => {
  const template = renderOnceTemplate(false)
  assert.equal(template.render({ n: 1 }), '<b>1</b><i>1</i>|1')
  assert.equal(template.render({ n: 2 }), '<b>2</b><i>2</i>|2')
})

/** Imported macros are made once per template (keepImportedMacros); a `with context` import still sees each page's values. */
test('a template imported without context runs once; one imported with context runs on every render', () => {
  keepImportedMacros()
  const sources: Record<string, string> = {
    'made.njk': '{% set made = count() %}{% macro shown() %}{{ made }}{% endmacro %}',
    'seen.njk': '{% set seen = name %}{% macro shown() %}{{ seen }}{% endmacro %}',
    'page.njk': '{% from "made.njk" import shown %}{% import "seen.njk" as seen with context %}{{ shown() }}-{{ seen.shown() }}'
  }
  const loader = { getSource: (name: string) => ({ src: sources[name]!, path: name, noCache: false }) }
  const env = new nunjucks.Environment(loader as unknown as nunjucks.ILoader, { autoescape: true })
  let runs = 0
  env.addGlobal('count', () => ++runs)
  assert.equal(env.render('page.njk', { name: 'a' }), '1-a')
  assert.equal(env.render('page.njk', { name: 'b' }), '1-b')
  assert.equal(runs, 1)
})
