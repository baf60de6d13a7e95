// NotificationHub+Listener: the listener connection's events (login, loss, batches, timers) and the steps that drive it.
import PostgresWire

extension NotificationHub {
    // MARK: the listener connection

    /// The listener logged in: send the first batch.
    mutating func listenerConnected(now: UInt64) -> [Action] {
        guard phase == .connecting else { return [] }
        phase = .ready
        readySince = now
        listened = []
        inFlight = nil
        var actions: [Action] = []
        work(&actions)
        return actions
    }

    /// The listener's login failed. `retryable`: worth another attempt (else waiting LISTENs fail now).
    mutating func listenerLoginFailed(reason: String, retryable: Bool, jitter: Double, now: UInt64) -> [Action] {
        guard phase == .connecting else { return [] }
        lastFailure = reason
        failures += 1
        var actions: [Action] = []
        if !retryable {
            for client in awaitingOrder {
                actions.append(.failListen(client, ErrorResponse(
                    severity: .error, code: SQLState.connectionFailure, message: "could not LISTEN: the notification listener could not log in: \(reason)")))
                dropAwaiting(client)
            }
        }
        lostConnection(&actions, jitter: jitter, now: now)
        return actions
    }

    /// The listener connection closed after login (killed, upstream restart, idle timeout): every
    /// LISTEN is gone with it; it reconnects with backoff and LISTENs to every wanted channel again.
    /// Notifications sent meanwhile are lost, as for a PostgreSQL session that reconnects.
    mutating func listenerLost(reason: String, jitter: Double, now: UInt64) -> [Action] {
        guard phase == .ready || phase == .connecting else { return [] }
        if phase == .ready {
            stats.listenerLosses += 1
            if now &- readySince >= Self.stableAfter { failures = 0 }
        }
        lastFailure = reason
        failures += 1
        var actions: [Action] = []
        lostConnection(&actions, jitter: jitter, now: now)
        return actions
    }

    /// The batch in flight finished: `error` nil when every statement took effect (the batch is one
    /// implicit transaction, so on an error none did, and the connection is replaced).
    mutating func listenerBatchFinished(error: ErrorResponse?, jitter: Double, now: UInt64) -> [Action] {
        guard phase == .ready, let batch = inFlight else { return [] }
        inFlight = nil
        var actions: [Action] = []
        if let error {
            lastFailure = "\(error.code ?? "?") \(error.message ?? "")"
            failures += 1
            actions.append(.closeListener(reason: "listen_failed"))
            lostConnection(&actions, jitter: jitter, now: now)
            return actions
        }
        lastFailure = nil
        for channel in batch.listen { listened.insert(channel) }
        for channel in batch.unlisten { listened.remove(channel) }
        resolveAwaiting(&actions)
        work(&actions)
        return actions
    }

    mutating func reconnectTimerFired(now: UInt64) -> [Action] {
        guard phase == .waitingToReconnect else { return [] }
        if wanted.isEmpty {
            phase = .closed
            return []
        }
        phase = .connecting
        stats.reconnects += 1
        return [.openListener(reconnect: true)]
    }

    mutating func graceTimerFired(now: UInt64) -> [Action] {
        guard phase == .ready, wanted.isEmpty, listened.isEmpty, inFlight == nil else { return [] }
        phase = .closed
        return [.closeListener(reason: "notify_idle")]
    }

    /// The pool is going away: close the listener, forget everyone.
    mutating func shutdown() -> [Action] {
        let open = listenerOpen
        phase = .closed
        listened = []
        inFlight = nil
        subscribers = [:]
        wanted = [:]
        clients = [:]
        awaitingOrder = []
        return open ? [.closeListener(reason: "shutdown")] : []
    }

    // MARK: steps

    /// Brings the listener toward the wanted channels: open it, send the next batch, or (nothing
    /// wanted, nothing listened) let it go after the grace period.
    mutating func work(_ actions: inout [Action]) {
        switch phase {
        case .closed:
            if !wanted.isEmpty {
                phase = .connecting
                actions.append(.openListener(reconnect: false))
            }
        case .connecting, .waitingToReconnect:
            break
        case .ready:
            guard inFlight == nil else { return }
            let listen = wanted.keys.filter { !listened.contains($0) }.sorted()
            let unlisten = listened.filter { wanted[$0] == nil }.sorted()
            if listen.isEmpty && unlisten.isEmpty {
                if wanted.isEmpty { actions.append(.scheduleGrace(afterMilliseconds: Self.graceMilliseconds)) }
                return
            }
            inFlight = (listen, unlisten)
            let statements = listen.map { "LISTEN " + ListenStatements.quoted($0) }
                + unlisten.map { "UNLISTEN " + ListenStatements.quoted($0) }
            actions.append(.sendListenerQuery(statements.joined(separator: ";")))
        }
    }

    /// The connection is gone: nothing is listened; try again after a backoff while channels are wanted.
    mutating func lostConnection(_ actions: inout [Action], jitter: Double, now: UInt64) {
        listened = []
        inFlight = nil
        guard !wanted.isEmpty else {
            phase = .closed
            return
        }
        phase = .waitingToReconnect
        let exponent = min(max(failures - 1, 0), 16)
        let base = min(Self.firstReconnectDelay << UInt64(exponent), max(limits.maxReconnectDelay, Self.firstReconnectDelay))
        actions.append(.scheduleReconnect(afterMilliseconds: UInt64(Double(base) * jitter)))
    }

    /// Queries whose channels are all listened now take effect, in arrival order.
    mutating func resolveAwaiting(_ actions: inout [Action]) {
        guard !awaitingOrder.isEmpty else { return }
        for client in awaitingOrder {
            guard let subscriber = clients[client], let ops = subscriber.awaiting,
                  subscriber.awaitingHolds.allSatisfy({ listened.contains($0) }) else { continue }
            apply(ops, to: client)
            dropAwaiting(client)
            actions.append(.answerListen(client))
        }
    }
}
