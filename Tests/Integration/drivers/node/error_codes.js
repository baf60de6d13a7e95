'use strict'
// Errors through a pg.Pool, each as a simple query and as a named prepared statement, each followed
// by a query that must work on the same pool (and on the same client, for a checked-out one).
//
// Parameters: { conn: {host, port, user, password, database}, table (with `id int primary key`),
//               tasks, poolMax }
// Prints: { steps: {task: [{label, code, severity, message, constraint, position, after}]},
//           poolErrors, final }

const { pg, run, errorRecord, pooled } = require('./common')

run(async (p) => {
  const T = p.table
  const pool = new pg.Pool({ ...p.conn, ssl: false, max: p.poolMax })
  const poolErrors = []
  pool.on('error', (err) => poolErrors.push(errorRecord(err)))
  const steps = {}
  const div = (d) => ({ name: 'div', text: 'select 1 / $1::int as d', values: [d] })
  const uins = (id) => ({ name: 'uins', text: `insert into ${T} (id) values ($1)`, values: [id] })

  async function task(t) {
    const record = (steps[t] = [])
    let k = 0
    // A query that must fail, then one that must work (alternately simple and named).
    async function expectError(label, query, on = pool) {
      const step = { label }
      try {
        await on.query(query)
        step.code = 'no error'
      } catch (err) {
        Object.assign(step, errorRecord(err))
        step.constraint = err.constraint === undefined ? null : err.constraint
        step.position = err.position === undefined ? null : err.position
      }
      k++
      const after = k % 2 === 0
        ? await on.query(`select ${k} + 1 as v`)
        : await on.query({ name: 'after', text: 'select $1::int + 1 as v', values: [k] })
      step.after = after.rows[0].v
      record.push(step)
    }
    const id = 1000 * (t + 1)

    await expectError('simple division by zero', 'select 1/0')
    await expectError('named division by zero', div(0))
    // The same named statement again, now succeeding.
    record.push({ label: 'named division again', value: (await pool.query(div(1))).rows[0].d })

    await pool.query(`insert into ${T} (id) values (${id})`)
    await expectError('simple unique violation', `insert into ${T} (id) values (${id})`)
    await pool.query(uins(id + 1))
    await expectError('named unique violation', uins(id + 1))

    await expectError('simple undefined table', 'select * from node_no_such_table')
    await expectError('named undefined table',
      { name: 'missing', text: 'select * from node_no_such_table where 1 = $1', values: [1] })

    await expectError('simple syntax error', 'selec 1')
    await expectError('named syntax error', { name: 'typo', text: 'selec $1::int', values: [1] })

    // Inside a transaction on one checked-out client: the error, then 25P02 until ROLLBACK.
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(uins(id + 2))
      const step = { label: 'transaction' }
      try {
        await client.query(div(0))
      } catch (err) {
        step.first = err.code
      }
      try {
        await client.query('select 1')
      } catch (err) {
        step.second = err.code
      }
      await client.query('ROLLBACK')
      step.after = (await client.query(div(1))).rows[0].d
      record.push(step)
    } finally {
      client.release()
    }
  }

  await pooled(p.tasks, p.tasks, task)
  const final = (await pool.query(`select count(*) as n from ${T}`)).rows[0].n
  await pool.end()
  return { steps, poolErrors, final }
})
