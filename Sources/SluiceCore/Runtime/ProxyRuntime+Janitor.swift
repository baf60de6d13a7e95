// ProxyRuntime+Janitor: runs ClientJanitor's decisions once a second — timeouts and leak suspects.
import Logging
import PostgresWire

extension ProxyRuntime {
    /// Starts the once-a-second janitor tick (at start).
    func scheduleLeakCheck() {
        janitorTimer = loop.timers.scheduleRepeating(now: loop.now, everyMilliseconds: 1000) { [weak self] in
            self?.checkClientTimeouts()
            self?.checkLeaks()
            self?.refreshApplicationSlots()
        }
    }

    /// Active clients whose application entry went to another name get their own again.
    func refreshApplicationSlots() {
        let now = loop.now
        for client in clients.values { client.refreshApplicationSlot(now: now) }
    }

    var janitor: ClientJanitor {
        ClientJanitor(clientIdleTimeout: config.clientIdleTimeout, idleTransactionTimeout: config.idleTransactionTimeout,
                      queryTimeout: config.queryTimeout, leakDetectionThreshold: config.leakDetectionThreshold)
    }

    /// client_idle_timeout, idle_transaction_timeout, query_timeout.
    func checkClientTimeouts() {
        let janitor = self.janitor
        guard janitor.checksTimeouts else { return }
        let now = loop.now
        for client in Array(clients.values) {
            guard let action = janitor.timeoutAction(for: client.janitorView(now: now), now: now) else { continue }
            switch action {
            case .closeIdleClient:
                client.closeWithError(ErrorResponse(severity: .fatal, code: SQLState.idleSessionTimeout,
                                                    message: "terminating connection due to client_idle_timeout (\(formatSeconds(config.clientIdleTimeout)))"),
                                      reason: "client_idle_timeout")
            case .closeIdleInTransaction:
                client.closeWithError(ErrorResponse(severity: .fatal, code: SQLState.idleInTransactionSessionTimeout,
                                                    message: "terminating connection due to idle_transaction_timeout (\(formatSeconds(config.idleTransactionTimeout))): the transaction was rolled back"),
                                      reason: "idle_transaction_timeout")
            case .cancelQuery:
                if client.server?.queryTimedOut() == true { stats.queryTimeouts += 1 }
            }
        }
    }

    /// Warns once about every client holding a server past `leak_detection_threshold`.
    func checkLeaks() {
        let janitor = self.janitor
        guard janitor.leakDetectionThreshold > 0 else { return }
        let now = loop.now
        for client in clients.values {
            let view = client.janitorView(now: now)
            guard janitor.isNewLeakSuspect(view), let held = view.heldSeconds else { continue }
            client.becameLeakSuspect()
            stats.leakSuspects += 1
            client.pool?.countLeakSuspect()
            applications.countLeakSuspect(slot: client.applicationSlot, worker: worker)
            var metadata: Logger.Metadata = [
                "client": "\(client.peer)", "database": "\(client.database)", "user": "\(client.user)",
                "application_name": "\(client.applicationName)", "held_for_s": "\(held)",
                "tx_state": "\(client.server.map { String(UnicodeScalar($0.transactionStatus.rawValue)) } ?? "-")"]
            if config.logLeakQueries, let query = client.lastQuery { metadata["last_query"] = "\(query)" }
            logger.warning("leak suspect: client has held a server connection longer than leak_detection_threshold",
                           metadata: metadata)
        }
    }
}

extension ClientConnection {
    /// What the janitor needs to know of this client.
    func janitorView(now: UInt64) -> ClientJanitor.ClientView {
        let state: ClientJanitor.ClientView.State
        switch phase {
        case .idle: state = .idle
        case .linked:
            if let server {
                state = .linked(server: ClientJanitor.ServerView(
                    inTransaction: server.transactionStatus != .idle, pendingReadyForQuery: server.pendingReadyForQuery,
                    queryStartedAt: server.queryStartedAt, queryTimeoutFired: server.queryTimeoutFired))
            } else {
                state = .other
            }
        default: state = .other
        }
        return ClientJanitor.ClientView(state: state, lastReadAt: lastReadAt, heldSeconds: heldSeconds(now: now),
                                        leakReported: leakReported)
    }
}
