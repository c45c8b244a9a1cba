import type { Row } from './table.ts'

export async function datasetQueries(_serverUrl: string, _log: (message: string) => void): Promise<Row[]> {
  throw new Error('dataset queries: written next')
}
