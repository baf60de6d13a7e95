'use strict'
// Runs the node-postgres line that `sluice urls` prints, verbatim: the expression
// (`new pg.Pool({ connectionString: "..." })`) is evaluated with `pg` in scope.
//
// Parameters: { expression, queries: n }
// Prints: { connected: false, error } or { connected: true, database, user, encrypted, protocol,
//           values: [...] }

const { pg, run, errorRecord } = require('./common')

run(async (p) => {
  // eslint-disable-next-line no-new-func
  const pool = new Function('pg', `'use strict'; return (${p.expression})`)(pg)
  if (!(pool instanceof pg.Pool)) throw new Error(`the printed expression is not a pg.Pool: ${p.expression}`)
  pool.on('error', () => {})
  let client
  try {
    client = await pool.connect()
  } catch (err) {
    await pool.end()
    return { connected: false, error: errorRecord(err) }
  }
  try {
    const stream = client.connection.stream
    const who = (await client.query('select current_database() as db, current_user as u')).rows[0]
    const values = []
    for (let k = 0; k < (p.queries || 3); k++) {
      values.push((await pool.query({ name: 'urls_probe', text: 'select $1::int * 3 as v', values: [k] })).rows[0].v)
    }
    return {
      connected: true,
      database: who.db,
      user: who.u,
      encrypted: stream.encrypted === true,
      protocol: stream.encrypted ? stream.getProtocol() : null,
      values,
    }
  } finally {
    client.release()
    await pool.end()
  }
})
