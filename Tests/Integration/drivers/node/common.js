'use strict'
// Shared by the node-postgres programs of test_drivers_node.py.
//
// Each program is `node PROGRAM.js '<JSON parameters>'`: it prints one JSON document on stdout
// and exits 0. Outcomes the test asserts on (a refused connection, an SQLSTATE) are part of that
// document; anything unexpected goes to stderr with exit status 1, and a run longer than
// `timeoutMs` (default 60 s) exits with status 3.

const pg = require('pg')

function parameters() {
  const text = process.argv[2]
  if (!text) throw new Error(`usage: node ${process.argv[1]} '<JSON parameters>'`)
  return JSON.parse(text)
}

/** The fields of an error that a test compares (node-postgres copies them from ErrorResponse). */
function errorRecord(err) {
  return {
    code: err.code === undefined ? null : err.code,
    severity: err.severity === undefined ? null : err.severity,
    message: String(err.message),
  }
}

/** Runs `main(parameters)` and prints its result as JSON. */
function run(main) {
  let params
  try {
    params = parameters()
  } catch (err) {
    process.stderr.write(`${err.stack || err}\n`)
    process.exit(1)
  }
  const timer = setTimeout(() => {
    process.stderr.write(`still running after ${params.timeoutMs || 60000} ms\n`)
    process.exit(3)
  }, params.timeoutMs || 60000)
  main(params).then(
    (result) => {
      clearTimeout(timer)
      process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
    },
    (err) => {
      clearTimeout(timer)
      process.stderr.write(`unexpected failure: ${err && err.stack ? err.stack : err}\n` +
        (err && err.code ? `code: ${err.code}\n` : ''))
      process.exit(1)
    }
  )
}

/** Runs `count` jobs `job(k)` with at most `concurrency` at a time; resolves when all are done. */
async function pooled(count, concurrency, job) {
  let next = 0
  async function worker() {
    while (next < count) {
      const k = next++
      await job(k)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}

/** A query result as a comparable value: command tag, row count and rows (node-postgres's types). */
function canon(result) {
  return { command: result.command, rowCount: result.rowCount, rows: result.rows }
}

module.exports = { pg, run, errorRecord, pooled, canon }
