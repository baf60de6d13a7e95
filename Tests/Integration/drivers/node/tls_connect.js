'use strict'
// One pg.Client toward Sluice with a given `ssl` setting; reports what the TLS hop looks like from
// node's side and, with `admin`, Sluice's own SHOW CLIENTS row for this connection.
//
// Parameters: { conn: {host, port, user, password, database}, ssl: "off" | "verify-with-ca" |
//               "verify-system-cas" | "no-verify", ca: path (for verify-with-ca), admin: bool }
// Prints: { connected: false, error: {code, severity, message} } when the connection is refused, else
//         { connected: true, encrypted, protocol, authorized, fingerprint256, localPort, value,
//           showClients: [rows of SHOW CLIENTS whose port is localPort] }

const fs = require('fs')
const { pg, run, errorRecord } = require('./common')

function sslOption(p) {
  switch (p.ssl) {
    case 'off':
      return false
    case 'verify-with-ca':
      return { rejectUnauthorized: true, ca: fs.readFileSync(p.ca, 'utf8') }
    case 'verify-system-cas':
      return { rejectUnauthorized: true }
    case 'no-verify':
      return { rejectUnauthorized: false }
    default:
      throw new Error(`unknown ssl setting ${p.ssl}`)
  }
}

run(async (p) => {
  const ssl = sslOption(p)
  const client = new pg.Client({
    ...p.conn, ssl, connectionTimeoutMillis: 10000, application_name: 'node-tls-probe' })
  client.on('error', () => {}) // a refused connection is reported through connect()
  try {
    await client.connect()
  } catch (err) {
    return { connected: false, error: errorRecord(err) }
  }
  try {
    const stream = client.connection.stream
    const encrypted = stream.encrypted === true
    const peer = encrypted ? stream.getPeerCertificate() : null
    const value = (await client.query({ name: 'tls_probe', text: 'select $1::text as v', values: ['over tls?'] })).rows[0].v
    let showClients = null
    if (p.admin) {
      const admin = new pg.Client({ ...p.conn, database: 'sluice', ssl, connectionTimeoutMillis: 10000 })
      await admin.connect()
      try {
        const rows = (await admin.query('SHOW CLIENTS')).rows
        showClients = rows.filter((row) => Number(row.port) === stream.localPort)
      } finally {
        await admin.end()
      }
    }
    return {
      connected: true,
      encrypted,
      protocol: encrypted ? stream.getProtocol() : null,
      authorized: encrypted ? stream.authorized : null,
      fingerprint256: peer ? peer.fingerprint256 : null,
      localPort: stream.localPort,
      value,
      showClients,
    }
  } finally {
    await client.end()
  }
})
