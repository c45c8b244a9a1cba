// Plain JavaScript, not TypeScript: `npm start` runs this file's check in the service's own
// process, which must never load Node's type stripper (ADR 24).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * `npm run build` (and `npm ci`, through `prepare`): compiles src/ to dist/, which
 * `npm start` runs, so that a service does not carry Node's TypeScript stripper (a
 * WebAssembly module, ~20 MB of RSS) for its whole life. Each .ts file (tests aside)
 * becomes a .js file with the same lines and columns (types are blanked out, as Node does
 * when it runs the .ts), its relative imports of './x.ts' becoming './x.js'; every other
 * file (templates, styles, browser scripts) is copied. dist/ mirrors src/ at the same
 * depth, so paths taken from `import.meta.dirname` hold in both.
 */
const root = path.resolve(import.meta.dirname, '..')
export const sourceFolder = path.join(root, 'src')
export const buildFolder = path.join(root, 'dist')
const stampFile = path.join(buildFolder, '.sources.json')

const isTest = (file) => file.endsWith('.test.ts')

/** Every file the build reads, with its size and modification time: what a build is of. */
function sources() {
  const files = readdirSync(sourceFolder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !isTest(entry.name))
    .map((entry) => path.relative(sourceFolder, path.join(entry.parentPath, entry.name)))
    .sort()
  return Object.fromEntries(files.map((file) => {
    const stat = statSync(path.join(sourceFolder, file))
    return [file, `${stat.size} ${stat.mtimeMs}`]
  }))
}

/** Why dist/ does not match src/ (missing, or which file changed), or undefined if it does. */
export function staleness() {
  let built
  try {
    built = JSON.parse(readFileSync(stampFile, 'utf8'))
  } catch {
    return 'dist/ has not been built'
  }
  const now = sources()
  const changed = [...new Set([...Object.keys(now), ...Object.keys(built)])].filter((file) => now[file] !== built[file])
  if (changed.length === 0) return undefined
  return `src/${changed[0]}${changed.length > 1 ? ` and ${changed.length - 1} more` : ''} changed since the last build`
}

// A relative module specifier ending in .ts, in `from '…'`, `import '…'` or `import('…')`.
const relativeTsImport = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"\n]*)\.ts\2/g
const anyRelativeTsString = /(['"])\.\.?\/[^'"\n]*\.ts\1/

export function build() {
  const stamp = sources()
  rmSync(buildFolder, { recursive: true, force: true })
  for (const file of Object.keys(stamp)) {
    const target = path.join(buildFolder, file)
    mkdirSync(path.dirname(target), { recursive: true })
    if (!file.endsWith('.ts')) {
      cpSync(path.join(sourceFolder, file), target)
      continue
    }
    const javascript = stripTypeScriptTypes(readFileSync(path.join(sourceFolder, file), 'utf8'))
      .replace(relativeTsImport, (_, before, quote, specifier) => `${before}${quote}${specifier}.js${quote}`)
    // An import written some other way would fail only when reached (a lazy import at the
    // first email, say): refuse the build instead.
    const left = anyRelativeTsString.exec(javascript)
    if (left) throw new Error(`src/${file}: ${left[0]} is not an import this build can rewrite to .js`)
    writeFileSync(target.replace(/\.ts$/, '.js'), javascript)
  }
  writeFileSync(stampFile, JSON.stringify(stamp))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reason = staleness()
  if (reason === undefined) {
    console.warn('dist/ is up to date with src/')
  } else {
    const begun = Date.now()
    console.warn(`Compiling src/ to dist/ (${reason})…`)
    build()
    console.warn(`Compiled in ${((Date.now() - begun) / 1000).toFixed(1)} s`)
  }
}
