'use strict'
// test_session_fidelity.py: node-postgres through a session-mode Sluice. One pg.Client: its
// processID (from BackendKeyData) against `select pg_backend_pid()`, then `select pg_sleep(10)`
// cancelled after `cancelAfterMs` the node-postgres way: another pg.Client's cancel(client, query)
// sends a CancelRequest with the first client's key on a new connection. Reports how long it took.

const { pg, run, errorRecord } = require('./common')

run(async (params) => {
  const client = new pg.Client(params.connection)
  await client.connect()
  try {
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid
    const result = { processID: client.processID, backendPid: pid }
    const query = new pg.Query('select pg_sleep(10)')
    const running = new Promise((resolve) => {
      query.on('error', (err) => resolve({ error: errorRecord(err), at: Date.now() }))
      query.on('end', () => resolve({ error: null, at: Date.now() }))
    })
    client.query(query)
    await new Promise((resolve) => setTimeout(resolve, params.cancelAfterMs))
    const cancelledAt = Date.now()
    new pg.Client(params.connection).cancel(client, query)
    const outcome = await running
    result.cancel = { error: outcome.error, ms: outcome.at - cancelledAt }
    result.after = (await client.query('select 1 as one')).rows[0].one
    return result
  } finally {
    await client.end()
  }
})
