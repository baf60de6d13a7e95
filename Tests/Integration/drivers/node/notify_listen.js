'use strict'
// LISTEN through Sluice's notification relay (transaction mode), the node-postgres way: a
// pg.Client that ran `LISTEN` emits 'notification' events while it holds no server.
//
// Parameters: { conn: {host, port, user, password, database}, channel, count }
// Prints: { received: [{channel, payload, processId}], notifierPids, afterUnlisten: [...],
//           listenTag, unlistenTag }

const { pg, run } = require('./common')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

run(async (p) => {
  const listener = new pg.Client({ ...p.conn, ssl: false })
  await listener.connect()
  const received = []
  listener.on('notification', (msg) => {
    received.push({ channel: msg.channel, payload: msg.payload, processId: msg.processId })
  })
  const listened = await listener.query(`LISTEN ${p.channel}`)

  // Another client notifies, one statement at a time (the listener's pool may have one server:
  // it must not hold it while it waits for notifications).
  const notifier = new pg.Client({ ...p.conn, ssl: false })
  await notifier.connect()
  const notifierPids = []
  for (let i = 0; i < p.count; i++) {
    const r = await notifier.query('select pg_backend_pid() as pid, pg_notify($1, $2)', [p.channel, `n${i} ✓`])
    notifierPids.push(r.rows[0].pid)
  }
  const deadline = Date.now() + 10000
  while (received.length < p.count && Date.now() < deadline) await sleep(20)

  // UNLISTEN: nothing more arrives.
  const unlistened = await listener.query(`UNLISTEN ${p.channel}`)
  const before = received.length
  await notifier.query(`NOTIFY ${p.channel}, 'after unlisten'`)
  await listener.query('select 1')  // a round trip through the listener's connection
  await sleep(300)
  const afterUnlisten = received.slice(before)

  await notifier.end()
  await listener.end()
  return {
    received: received.slice(0, before), notifierPids, afterUnlisten,
    listenTag: listened.command, unlistenTag: unlistened.command,
  }
})
