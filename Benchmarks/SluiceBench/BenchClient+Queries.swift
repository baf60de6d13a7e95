// BenchClient+Queries: sending statements in the chosen protocol and reading their results without blocking.
import CLibpq
import Foundation

private let sqlstateField = Int32(UInt8(ascii: "C"))  // PG_DIAG_SQLSTATE

extension BenchClient {
    /// Starts a new transaction; `startedAt` is where its latency is measured from.
    func beginTransaction(now: UInt64, startedAt: UInt64) {
        guard now < worker.end else {
            state = .ready
            return
        }
        steps = plan.transaction(random: &worker.random)
        transactionStart = startedAt
        bytesThisTransaction = 0
        failure = nil
        state = .running(step: 0)
        send(steps[0], now: now)
    }

    func sendPrepare(_ template: StatementTemplate, now: UInt64) {
        let sent = PQsendPrepare(connection, template.name, template.sql, 0, nil)
        finishSend(sent, now: now)
    }

    private func send(_ step: Step, now: UInt64) {
        let sent: Int32
        switch plan.effectiveProtocol {
        case .simple:
            sent = PQsendQuery(connection, step.inlinedSQL)
        case .extended, .prepared:
            let values = step.parameters.map { strdup($0) }
            defer { values.forEach { free($0) } }
            let pointers = values.map { UnsafePointer($0) }
            let count = Int32(pointers.count)
            if plan.effectiveProtocol == .extended {
                sent = PQsendQueryParams(connection, step.template.sql, count, nil, pointers, nil, nil, 0)
            } else {
                sent = PQsendQueryPrepared(connection, step.template.name, count, pointers, nil, nil, 0)
            }
        }
        finishSend(sent, now: now)
    }

    private func finishSend(_ sent: Int32, now: UInt64) {
        guard sent == 1 else {
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return
        }
        _ = flush(now: now)
    }

    /// Pushes queued bytes; false if the connection failed (and was closed).
    func flush(now: UInt64) -> Bool {
        switch PQflush(connection) {
        case 0: flushPending = false
        case 1: flushPending = true
        default:
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return false
        }
        return true
    }

    func readable(now: UInt64) {
        guard PQconsumeInput(connection) == 1 else {
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return
        }
        if case .ready = state {
            // An idle (or finished) connection: nothing is expected but a drop or a notice.
            // PQisBusy parses what was read, handing an asynchronous FATAL to the notice receiver.
            _ = PQisBusy(connection)
            if PQstatus(connection) == CONNECTION_BAD {
                connectionFailed(now: now, message: libpqErrorMessage(connection))
            }
            return
        }
        while PQisBusy(connection) == 0 {
            guard let result = PQgetResult(connection) else {
                statementFinished(now: now)
                return
            }
            consume(result)
            PQclear(result)
        }
    }

    private func consume(_ result: OpaquePointer) {
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK:
            let rows = PQntuples(result), columns = PQnfields(result)
            for row in 0..<rows {
                for column in 0..<columns { bytesThisTransaction += Int(PQgetlength(result, row, column)) }
            }
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            break
        default:
            guard failure == nil else { return }
            let code = PQresultErrorField(result, sqlstateField).map { String(cString: $0) }
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            failure = (code ?? connectionFailureCode, message.isEmpty ? libpqErrorMessage(connection) : message)
        }
    }

    /// All results of the statement in flight are in: go on, roll back, or finish the transaction.
    private func statementFinished(now: UInt64) {
        if PQstatus(connection) == CONNECTION_BAD {
            connectionFailed(now: now, message: libpqErrorMessage(connection))
            return
        }
        switch state {
        case .preparing(let index):
            if failure != nil {
                // The statement can't be prepared here (e.g. a pooler without prepared statement
                // support): count it and start over on a new connection after the back-off.
                connectionFailed(now: now, message: failure?.message ?? "")
            } else if index + 1 < plan.templates.count {
                state = .preparing(index: index + 1)
                sendPrepare(plan.templates[index + 1], now: now)
            } else {
                beginTransaction(now: now, startedAt: now)
            }
        case .running(let step):
            if failure != nil {
                if PQtransactionStatus(connection) == PQTRANS_INERROR {
                    state = .rollingBack
                    finishSend(PQsendQuery(connection, StatementTemplate.rollback.sql), now: now)
                } else {
                    finishTransaction(now: now)
                }
            } else if step + 1 < steps.count {
                state = .running(step: step + 1)
                send(steps[step + 1], now: now)
            } else {
                finishTransaction(now: now)
            }
        case .rollingBack:
            finishTransaction(now: now)
        case .waiting, .connecting, .ready:
            preconditionFailure("invalid state: results read while \(state)")
        }
    }

    private func finishTransaction(now: UInt64) {
        if let failure {
            worker.failed(code: failure.code, message: failure.message, at: now)
            self.failure = nil
        } else {
            worker.transactionCompleted(latency: now - transactionStart, bytes: bytesThisTransaction, at: now)
        }
        transactionsOnConnection += 1
        if let lifetime = plan.connectionLifetime, transactionsOnConnection >= lifetime {
            close()
            state = .waiting(until: now)
            tick(now: now)
        } else {
            beginTransaction(now: now, startedAt: now)
        }
    }
}
