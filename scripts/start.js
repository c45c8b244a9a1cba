// Plain JavaScript, not TypeScript, so that the service's process never loads Node's type
// stripper (ADR 24).
import { spawnSync } from 'node:child_process'
import { staleness } from './build.js'

/**
 * `npm start`: runs src/start.ts as compiled to dist/ by `npm run build` (which `npm ci`
 * runs). If src/ changed since (an edit, a checkout), it compiles first, in a process of
 * its own so that this one stays free of the compiler.
 */
if (staleness() !== undefined) {
  const compiled = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', `${import.meta.dirname}/build.js`], { stdio: 'inherit' })
  if (compiled.status !== 0) process.exit(compiled.status ?? 1)
}
await import('../dist/start.js')
