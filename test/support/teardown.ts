/**
 * Whatever a test starts outside its own process (service nodes, a PostgreSQL server,
 * a redis-server) must not outlive it, even when a test fails, times out or is
 * interrupted. Each such thing registers a synchronous stop here; all are run when the
 * test process exits for any reason short of SIGKILL.
 */
const stops = new Set<() => void>()
let installed = false

/** Registers `stop` (synchronous: it may run inside process 'exit'); returns the unregister function. */
export function stopAtExit(stop: () => void): () => void {
  install()
  stops.add(stop)
  return () => { stops.delete(stop) }
}

function runAll(): void {
  for (const stop of [...stops].reverse()) {
    try {
      stop()
    } catch {
      // Best effort: one failure must not keep the rest running.
    }
  }
  stops.clear()
}

function install(): void {
  if (installed) return
  installed = true
  process.once('exit', runAll)
  // The test runner stops a file that runs too long with a signal: clean up, then go.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAll()
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
}
