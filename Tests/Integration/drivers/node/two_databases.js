'use strict'
// Two databases through one Sluice: one pg.Pool per database, interleaved tasks that use the same
// statement names and texts (the same table name exists in both databases).
//
// Parameters: { conn: {host, port, user, password}, databases: [name, name], table, tasks }
// Prints: { seen: {database: {current: [current_database()...], tags: [tags its table holds]}},
//           inserted: {database: n}, poolErrors }

const { pg, run, errorRecord, pooled } = require('./common')

run(async (p) => {
  const poolErrors = []
  const pools = {}
  for (const database of p.databases) {
    pools[database] = new pg.Pool({ ...p.conn, database, ssl: false, max: 5 })
    pools[database].on('error', (err) => poolErrors.push({ database, ...errorRecord(err) }))
  }
  const seen = {}
  const inserted = {}
  for (const database of p.databases) {
    seen[database] = { current: new Set(), tags: new Set() }
    inserted[database] = 0
  }

  async function task(k) {
    const database = p.databases[k % p.databases.length]
    const client = await pools[database].connect()
    try {
      const current = await client.query({
        name: 'current', text: 'select current_database() as db, $1::int as k', values: [k] })
      seen[database].current.add(current.rows[0].db)
      await client.query({
        name: 'mix_ins', text: `insert into ${p.table} (tag, k) values ($1, $2)`, values: [database, k] })
      inserted[database]++
      const tags = await client.query({
        name: 'mix_tags', text: `select distinct tag from ${p.table} where k >= $1`, values: [-1] })
      for (const row of tags.rows) seen[database].tags.add(row.tag)
    } finally {
      client.release()
    }
    // And once through pool.query (any pool client), simple protocol.
    const again = await pools[database].query('select current_database() as db')
    seen[database].current.add(again.rows[0].db)
  }

  await pooled(p.tasks, p.tasks, task)
  for (const database of p.databases) await pools[database].end()
  const out = {}
  for (const [database, s] of Object.entries(seen)) {
    out[database] = { current: [...s.current].sort(), tags: [...s.tags].sort() }
  }
  return { seen: out, inserted, poolErrors }
})
