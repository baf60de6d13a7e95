'use strict'
// A Next.js-style data layer on one pg.Pool: `tasks` concurrent async "requests", each running
// `iterations` rounds of named prepared statements ({ name, text, values }) through pool.query(),
// plus explicit transactions (BEGIN ... COMMIT / ROLLBACK) on one checked-out client.
//
// Parameters: { conn: {host, port, user, password, database}, table, tasks, iterations, poolMax }
// Prints: { results: {task: [value, ...]}, checkouts: [[clientId, backendPid], ...], poolErrors,
//           totalCount }
// `results` must be the same through Sluice and directly against PostgreSQL; `checkouts` say
// which server (pg_backend_pid()) ran the named statement `whoami` for which pool client.

const { pg, run, errorRecord, pooled, canon } = require('./common')

run(async (p) => {
  const T = p.table
  const pool = new pg.Pool({ ...p.conn, ssl: false, max: p.poolMax, idleTimeoutMillis: 30000 })
  const poolErrors = []
  pool.on('error', (err) => poolErrors.push(errorRecord(err)))
  const clientIds = new WeakMap()
  let nextClientId = 0
  pool.on('connect', (client) => clientIds.set(client, nextClientId++))

  const statement = (name, text) => (values) => ({ name, text, values })
  const ins = statement('ins', `insert into ${T} (task, n, payload) values ($1, $2, $3)`)
  const upd = statement('upd', `update ${T} set payload = payload || $3 where task = $1 and n = $2`)
  const own = statement('own', `select n, payload from ${T} where task = $1 order by n`)
  const cnt = statement('cnt', `select count(*) as c from ${T} where task = $1`)
  const div = statement('div', 'select 1 / $1::int as d')
  const whoami = statement('whoami', 'select pg_backend_pid() as pid, $1::int as k')
  const reads = [
    statement('r_sum', `select coalesce(sum(n), 0) as s from ${T} where task = $1`),
    statement('r_text', "select $1::int * 2 as v, $2::text || '-' || $1::text as t"),
    statement('r_numeric', 'select ($1::numeric / 3)::numeric(12, 4) as q, $2::bool as b'),
    statement('r_json', "select jsonb_build_object('task', $1::int, 'tags', $2::text[]) as j"),
    statement('r_max', `select max(n) as m from ${T} where task = $1 and n < $2`),
    statement('r_payload', `select payload from ${T} where task = $1 and n = $2`),
    statement('r_null', "select $1::text is null as isnull, coalesce($1::text, 'dflt') as v"),
  ]
  const readValues = (t, i) => [
    [t], [i, `t${t}`], [t * 7 + i, i % 2 === 0], [t, ['a', `t${t}`, 'b"q']], [t, i], [t, i >> 1], [null],
  ][i % reads.length]

  const results = {}
  const checkouts = []

  async function transaction(record, body) {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await body(client)
    } catch (err) {
      record.push(`error:${err.code}`)
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
  }

  async function task(t) {
    const record = (results[t] = [])
    const q = async (query) => record.push(canon(await pool.query(query)))
    for (let i = 0; i < p.iterations; i++) {
      await q(ins([t, i, `p${t}.${i}`]))
      if (i % 3 === 1) {
        await transaction(record, async (c) => {
          record.push(canon(await c.query(ins([t, 1000 + i, 'tx']))))
          record.push(canon(await c.query(upd([t, i, '+tx']))))
          record.push(canon(await c.query(cnt([t]))))
          record.push(canon(await c.query('COMMIT')))
        })
      }
      if (i % 4 === 2) {
        await transaction(record, async (c) => {
          record.push(canon(await c.query(ins([t, 2000 + i, 'rolled back']))))
          record.push(canon(await c.query(cnt([t]))))
          record.push(canon(await c.query('ROLLBACK')))
        })
        await q(cnt([t]))
      }
      if (i % 5 === 3) {
        // An error inside the transaction: the rest is refused (25P02) until ROLLBACK.
        await transaction(record, async (c) => {
          record.push(canon(await c.query(ins([t, 3000 + i, 'lost']))))
          try {
            await c.query(div([0]))
            record.push('no error')
          } catch (err) {
            record.push(`error:${err.code}`)
          }
          await c.query(cnt([t]))
        })
      }
      if (i % 6 === 4) {
        try {
          await pool.query(div([0]))
          record.push('no error')
        } catch (err) {
          record.push(`error:${err.code}`)
        }
        await q(div([i + 1]))
      }
      await q(own([t]))
      await q(reads[i % reads.length](readValues(t, i)))
      const client = await pool.connect()
      try {
        const who = await client.query(whoami([t]))
        checkouts.push([clientIds.get(client), who.rows[0].pid])
        record.push(who.rows[0].k)
      } finally {
        client.release()
      }
      await q(upd([t, i >> 1, '!']))
    }
    await q(cnt([t]))
  }

  await pooled(p.tasks, p.tasks, task)
  const totalCount = pool.totalCount
  await pool.end()
  return { results, checkouts, poolErrors, totalCount }
})
