'use strict'
// Serverless-style invocations: `clients` short-lived pg.Clients, at most `concurrency` at a time,
// each connecting, running one or two queries (a named prepared statement, every other one a
// simple query too) and ending.
//
// Parameters: { conn: {host, port, user, password, database}, clients, concurrency }
// Prints: { ok, errorCount, errors: [first 5 {k, code, severity, message}], databases: [...], ms }

const { pg, run, errorRecord, pooled } = require('./common')

run(async (p) => {
  const started = Date.now()
  let ok = 0
  const errors = []
  const databases = new Set()

  async function invocation(k) {
    const client = new pg.Client({ ...p.conn, ssl: false, connectionTimeoutMillis: 20000 })
    try {
      await client.connect()
      const res = await client.query({
        name: 'handler',
        text: 'select $1::int + 1 as v, current_database() as db',
        values: [k],
      })
      if (res.rows[0].v !== k + 1) throw new Error(`invocation ${k}: got ${res.rows[0].v}`)
      databases.add(res.rows[0].db)
      if (k % 2 === 0) {
        const simple = await client.query(`select ${k} as k, count(*) > 0 as any from pg_class`)
        if (simple.rows[0].k !== k || simple.rows[0].any !== true) throw new Error(`invocation ${k}: simple query`)
      }
      ok++
    } catch (err) {
      errors.push({ k, ...errorRecord(err) })
    } finally {
      await client.end().catch((err) => errors.push({ k, end: true, ...errorRecord(err) }))
    }
  }

  await pooled(p.clients, p.concurrency, invocation)
  const ms = Date.now() - started
  return { ok, errorCount: errors.length, errors: errors.slice(0, 5), databases: [...databases], ms }
})
