import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { sql } from 'kysely'
import { openDatabase } from './database.ts'

const root = mkdtempSync(path.join(os.tmpdir(), 'embedded-database-'))
after(() => rmSync(root, { recursive: true, force: true }))

test('the embedded database runs with a 16 MB buffer pool, on creation and on reopening, and keeps the settings initdb wrote (UTC)', async () => {
  // PostgreSQL's default 128 MB would sit in WebAssembly memory that never shrinks (ADR 21).
  const directory = path.join(root, 'signin')
  for (const opening of ['created', 'reopened']) {
    const db = await openDatabase({ directory })
    try {
      const { rows: [buffers] } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(db)
      const { rows: [zone] } = await sql<{ TimeZone: string }>`show timezone`.execute(db)
      assert.equal(buffers?.shared_buffers, '16MB', opening)
      assert.equal(zone?.TimeZone, 'UTC', opening)
    } finally {
      await db.destroy()
    }
  }
})
