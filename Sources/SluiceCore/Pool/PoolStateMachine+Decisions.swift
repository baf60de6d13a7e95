// PoolStateMachine+Decisions: the shared steps of the events: lend, check, open, close, give up.
import PostgresWire
import SluiceConfig

extension PoolStateMachine {
    /// Servers this pool may have now: `pool_size`, plus `reserve_pool_size` while a client has
    /// waited at least `reserve_pool_timeout`, never above `max_db_connections` less the
    /// notification listener (but always at least one).
    var serverCapacity: Int {
        var capacity = settings.poolSize
        if settings.reservePoolSize > 0, let oldest = oldestWaitStart,
           Double(now &- oldest) >= settings.reservePoolTimeout * 1000 {
            capacity += settings.reservePoolSize
        }
        if settings.maxDBConnections > 0 { capacity = min(capacity, max(settings.maxDBConnections - listenerServers, 1)) }
        return capacity
    }

    /// When the first client starts waiting, look again once it has waited `reserve_pool_timeout`.
    var reserveCheckDelay: UInt64 { UInt64(settings.reservePoolTimeout * 1000) + 1 }

    func waitedMicroseconds(since: UInt64) -> UInt64 { now > since ? (now - since) * 1000 : 0 }

    /// The pause before the next login attempt after `consecutiveFailures` failures: exponential
    /// from 0.25 s, at most 0.5 s while clients wait (`retryWhileWaiting`), else at most
    /// `server_login_retry`.
    func retryDelay(clientsWait: Bool) -> Double {
        let base = 0.25 * Double(1 << min(max(consecutiveFailures - 1, 0), 10))
        let cap = max(settings.serverLoginRetry, 0.05)
        return min(base, clientsWait ? min(cap, Self.retryWhileWaiting) : cap)
    }

    /// The pool has no logged-in server to give, or its last login failed: a waiting client is
    /// waiting for the upstream itself, not for a busy pool.
    var upstreamNotReady: Bool { lastConnectFailure != nil || loggedInCount == 0 }

    /// Waiters (for a server or for the pool's parameters) that have waited `cold_start_notice_after`
    /// for an upstream that is not ready get one NOTICE each.
    mutating func noticeColdStartWaiters(_ actions: inout Actions) {
        let after = settings.coldStartNoticeAfter
        guard after > 0, upstreamNotReady, !waiting.isEmpty || !parameterWaiters.isEmpty else { return }
        let threshold = UInt64(after * 1000)
        let now = self.now
        var due: [(ClientID, Int)] = []
        func check(_ waiter: inout Waiter) {
            guard !waiter.noticed, now &- waiter.since >= threshold else { return }
            waiter.noticed = true
            due.append((waiter.client, Int((now &- waiter.since) / 1000)))
        }
        for i in parameterWaiters.indices { check(&parameterWaiters[i]) }
        waiting.updateEach { check(&$0) }
        for (client, seconds) in due { actions.append(.noticeColdStart(client, waitedSeconds: seconds)) }
    }

    /// The error a client gets when its wait for a server runs out.
    func waitTimeoutError() -> ErrorResponse {
        if let failure = lastConnectFailure {
            return ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                 message: "could not connect to the server of database \"\(settings.database)\" within query_wait_timeout (\(formatSeconds(settings.queryWaitTimeout))): \(failure.message)")
        }
        return ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                             message: "query_wait_timeout: no server connection of database \"\(settings.database)\" became free within \(formatSeconds(settings.queryWaitTimeout)) (pool_size=\(settings.poolSize))")
    }

    mutating func forgetWaiter(_ client: ClientID) {
        if !waiting.isEmpty { waiting.remove { $0.client == client } }
        if !parameterWaiters.isEmpty { parameterWaiters.removeAll { $0.client == client } }
    }

    mutating func link(_ server: ServerID, to client: ClientID, waitedMicroseconds: UInt64, _ actions: inout Actions) {
        stats.waitMicroseconds += waitedMicroseconds
        stats.checkouts += 1
        move(server, to: .linked(client))
        actions.append(.linkClient(client, to: server, waitedMicroseconds: waitedMicroseconds))
    }

    /// A server idle since `since` has been idle `server_check_delay` and is checked before it is lent.
    func checkDue(idleSince since: UInt64, now: UInt64) -> Bool {
        Double(now &- since) >= settings.serverCheckDelay * 1000
    }

    /// The most recently used idle server that needs no check (it stays idle; the caller links
    /// it). Servers idle at least `server_check_delay` are checked first and come back through
    /// `checkSucceeded` (or close).
    mutating func popIdle(_ actions: inout Actions) -> ServerID? {
        while let id = idleStack.last {
            guard case .idle(let since) = servers[id]?.state else { preconditionFailure("invalid state: \(id) in the idle stack while not idle") }
            if checkDue(idleSince: since, now: now) {
                stats.serverChecks += 1
                move(id, to: .checking)
                actions.append(.checkServer(id))
                continue
            }
            return id
        }
        return nil
    }

    /// A server is back in the idle stack (logged in, or released): close it if the pool is
    /// retired, paused, or it is past its lifetime, or if it is a reserve server whose rush is
    /// over; else lend it to the waiters.
    mutating func returned(_ server: ServerID, _ actions: inout Actions) {
        if retired || paused || servers[server]!.pastLifetime(now: now) {
            actions.append(close(server, reason: retired ? "database_removed" : paused ? "paused" : "lifetime"))
            serveWaiters(&actions)
            return
        }
        if waiting.isEmpty && serverCount > settings.poolSize {
            actions.append(close(server, reason: "reserve_released"))
            return
        }
        serveWaiters(&actions)
    }

    /// Lends idle servers to waiting clients in arrival order, then opens servers if some still wait.
    mutating func serveWaiters(_ actions: inout Actions) {
        if paused { return }
        while !waiting.isEmpty, let server = popIdle(&actions) {
            let waiter = waiting.removeFirst()!
            link(server, to: waiter.client, waitedMicroseconds: waitedMicroseconds(since: waiter.since), &actions)
        }
        openServersIfNeeded(&actions)
    }

    /// Opens servers while clients wait and the pool has room, unless backing off after failures.
    /// Not while servers are closing: those closes are being carried out, and each reports
    /// `serverClosed` (or `serverLoginFailed`), which decides again.
    mutating func openServersIfNeeded(_ actions: inout Actions) {
        guard !retryPending, !retired, !paused, counts.closing == 0 else { return }
        let demand = waiting.count + (!parametersKnown && !parameterWaiters.isEmpty ? 1 : 0)
        guard demand > 0 else { return }  // the common case after every transaction: nothing to open
        let pending = counts.connecting + counts.checking
        let capacity = serverCapacity
        var wanted = min(demand - pending, capacity - serverCount)
        if serverCount == 0 && capacity > 0 { wanted = max(wanted, 1) }
        if settings.maxUserConnections > 0 {
            wanted = min(wanted, settings.maxUserConnections - userServerCount)
        }
        // While logins fail, one attempt at a time probes the upstream; the first that succeeds
        // opens the rest at once (`serverConnected` → `returned` → here), in proportion to the waiters.
        if lastConnectFailure != nil { wanted = min(wanted, 1 - pending) }
        var opened = 0
        while opened < wanted && serverCount < capacity {
            if serverCount >= settings.poolSize { stats.reserveServersOpened += 1 }
            openServer(&actions)
            opened += 1
        }
    }

    mutating func openServer(_ actions: inout Actions) {
        nextServerNumber += 1
        let id = ServerID(number: nextServerNumber, slot: servers.nextSlot)
        let cold = upstreamNotReady
        move(id, to: .connecting)
        if cold { servers.markCold(id) }
        stats.serversOpened += 1
        actions.append(.connectServer(id))
    }

    /// Marks the server closing and says so; it is forgotten when its connection reports back.
    mutating func close(_ server: ServerID, reason: String) -> Action {
        move(server, to: .closing)
        return .closeServer(server, reason: reason)
    }

    mutating func closeIdle(reason: String) -> Actions {
        var actions = Actions()
        for id in idleStack { actions.append(close(id, reason: reason)) }
        return actions
    }

    /// Closes every server not already closing, in the order they were opened.
    mutating func closeAll(reason: String) -> Actions {
        var actions = Actions()
        for id in servers.ids where servers[id]!.state != .closing {
            actions.append(close(id, reason: reason))
        }
        return actions
    }

    /// A login cannot succeed: every waiting client (for a server or for parameters) gets `error`.
    mutating func failAllWaiting(_ error: ErrorResponse, _ actions: inout Actions) {
        let clients = waiting.drain().map(\.client) + parameterWaiters.map(\.client)
        parameterWaiters.removeAll()
        if !clients.isEmpty { actions.append(.failWaiters(clients, error, reason: "server_login_failed")) }
    }
}
