// PoolStateMachine+Events: what happened to the pool's clients, servers and timers, and what to do about it.
import PostgresWire
import SluiceConfig

extension PoolStateMachine {
    // MARK: clients

    /// A logged-in client needs the pool's parameters before it can be told ReadyForQuery.
    mutating func parametersRequested(_ client: ClientID, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        if parametersKnown { return [.parametersAvailable([client])] }
        parameterWaiters.append(Waiter(client: client, since: now))
        var actions: Actions = [.startWaitTimer(client, seconds: settings.queryWaitTimeout)]
        openServersIfNeeded(&actions)
        return actions
    }

    /// The common checkout, decided without an action list: the pool is not paused, nobody is
    /// ahead in the queue, and the most recently used idle server needs no check. Returns the
    /// server now linked to the client (the executor links them, as for `.linkClient` with no
    /// wait), or nil: nothing changed, and the request goes through `checkoutRequested`.
    mutating func checkoutFromIdle(_ client: ClientID, now: UInt64) -> ServerID? {
        guard !paused, waiting.isEmpty, let id = idleStack.last, case .idle(let since)? = servers[id]?.state,
              !checkDue(idleSince: since, now: now) else { return nil }
        self.now = now
        stats.checkoutRequests += 1
        stats.checkouts += 1
        move(id, to: .linked(client))
        return id
    }

    /// A client has a message to send and no server: lend it one now or queue it.
    mutating func checkoutRequested(_ client: ClientID, now: UInt64, userServers: Int) -> Actions {
        if let server = checkoutFromIdle(client, now: now) {
            return [.linkClient(client, to: server, waitedMicroseconds: 0)]
        }
        begin(now: now, userServers: userServers)
        stats.checkoutRequests += 1
        var actions = Actions()
        if !paused, waiting.isEmpty, let server = popIdle(&actions) {
            link(server, to: client, waitedMicroseconds: 0, &actions)
            return actions
        }
        if settings.maxQueueLength > 0 && waiting.count >= settings.maxQueueLength {
            stats.queueRefusals += 1
            actions.append(.closeClient(client, ErrorResponse(
                severity: .fatal, code: SQLState.tooManyConnections,
                message: "too many clients waiting for a server of database \"\(settings.database)\" (max_queue_length=\(settings.maxQueueLength))"),
                reason: "max_queue_length"))
            return actions
        }
        waiting.append(Waiter(client: client, since: now))
        actions.append(.startWaitTimer(client, seconds: settings.queryWaitTimeout))
        if waiting.count == 1 && settings.reservePoolSize > 0 {
            actions.append(.scheduleReserveCheck(afterMilliseconds: reserveCheckDelay))
        }
        openServersIfNeeded(&actions)
        return actions
    }

    /// The client is gone: forget it if it waited. A server it held (`server`) is cleaned up
    /// (`draining`) until it is released or closed.
    mutating func clientLeft(_ client: ClientID, holding server: ServerID? = nil) -> Actions {
        forgetWaiter(client)
        if let server, servers[server]?.state == .linked(client) { move(server, to: .draining) }
        return []
    }

    /// The client's `query_wait_timeout` ran out: it gets the error and is closed.
    mutating func waitTimedOut(_ client: ClientID) -> Actions {
        forgetWaiter(client)
        stats.queueTimeouts += 1
        return [.closeClient(client, waitTimeoutError(), reason: "query_wait_timeout")]
    }

    // MARK: servers

    /// A server logged in: the first one gives the pool its parameters; then it is lent or kept.
    /// `lifetimeJitter` (0.9...1.0) spreads `server_lifetime` so servers opened together do not expire together.
    mutating func serverConnected(_ server: ServerID, lifetimeJitter: Double, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        guard servers[server]?.state == .connecting else { preconditionFailure("invalid state: \(server) logged in while \(String(describing: servers[server]?.state))") }
        let lifetime = settings.serverLifetime * 1000
        servers[server]!.lifetime = lifetime > 0 ? UInt64(lifetime * lifetimeJitter) : .max
        lastConnectSuccess = now
        consecutiveFailures = 0
        lastConnectFailure = nil
        var actions = Actions()
        if !parametersKnown {
            actions.append(.adoptParameters(from: server))
            actions.append(contentsOf: parametersLearned())
        }
        move(server, to: .idle(since: now))
        returned(server, &actions)
        return actions
    }

    /// The pool's parameters became known (by its own first login, or another worker's pool):
    /// logins waiting for them finish.
    mutating func parametersLearned() -> Actions {
        guard !parametersKnown else { return [] }
        parametersKnown = true
        let clients = parameterWaiters.map(\.client)
        parameterWaiters.removeAll()
        return clients.isEmpty ? [] : [.parametersAvailable(clients)]
    }

    /// A login attempt failed (or a server closed while logging in): retry with backoff, or fail
    /// the waiting clients when another attempt cannot help. `retryJitter` is in 0.75...1.25.
    mutating func serverLoginFailed(_ server: ServerID, failure: ServerLoginFailure, retryJitter: Double,
                                    now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        switch servers[server]?.state {
        case .connecting?, .closing?: break
        case let state: preconditionFailure("invalid state: login of \(server) failed while \(String(describing: state))")
        }
        var actions = Actions()
        if settings.url.sslMode == .allow, !allowNeedsTLS, failure.code == SQLState.invalidAuthorizationSpecification {
            allowNeedsTLS = true  // plaintext was refused: try TLS at once
            move(server, to: nil)
            openServersIfNeeded(&actions)
            return actions
        }
        lastConnectFailure = failure
        lastFailureAt = now
        consecutiveFailures += 1
        stats.connectFailures += 1
        move(server, to: nil)
        actions.append(.logLoginFailure(server, failure))
        if !failure.retryable {
            failAllWaiting(ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                         message: "server login to database \"\(settings.database)\" failed: \(failure.message)",
                                         detail: "upstream SQLSTATE \(failure.code)"), &actions)
            return actions
        }
        guard !waiting.isEmpty || !parameterWaiters.isEmpty else { return actions }
        retryPending = true
        actions.append(.scheduleRetry(afterMilliseconds: UInt64(retryDelay(clientsWait: true) * retryJitter * 1000)))
        return actions
    }

    /// The common release, decided without an action list: nobody waits, the pool is neither
    /// retired nor paused nor above `pool_size`, and the server is within its lifetime, so it
    /// only goes back to the idle stack. Returns false when any of that does not hold: nothing
    /// changed, and the release goes through `serverReleased`.
    mutating func releasedToIdle(_ server: ServerID, now: UInt64) -> Bool {
        guard waiting.isEmpty, parametersKnown, !retired, !paused, serverCount <= settings.poolSize,
              let entry = servers[server], !entry.pastLifetime(now: now) else { return false }
        switch entry.state {
        case .linked, .draining: break
        default: return false
        }
        self.now = now
        move(server, to: .idle(since: now))
        return true
    }

    /// A server finished its transaction, or its client left and it is clean: reuse or close it.
    mutating func serverReleased(_ server: ServerID, now: UInt64, userServers: Int) -> Actions {
        if releasedToIdle(server, now: now) { return [] }
        begin(now: now, userServers: userServers)
        switch servers[server]?.state {
        case .linked?, .draining?: break
        case let state: preconditionFailure("invalid state: \(server) released while \(String(describing: state))")
        }
        move(server, to: .idle(since: now))
        var actions = Actions()
        returned(server, &actions)
        return actions
    }

    /// The server's connection closed, for any reason (asked to, or lost): forget it, and open
    /// another if clients wait. A client it was linked to learns it from its server, not from here.
    mutating func serverClosed(_ server: ServerID, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        switch servers[server]?.state {
        case nil, .connecting?: preconditionFailure("invalid state: \(server) closed while \(String(describing: servers[server]?.state))")
        default: break
        }
        move(server, to: nil)
        stats.serversClosed += 1
        var actions = Actions()
        openServersIfNeeded(&actions)
        return actions
    }

    /// `server_check_query` succeeded: the server goes straight to the longest waiter (it was
    /// checked just now), else back to the idle stack.
    mutating func checkSucceeded(_ server: ServerID, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        guard servers[server]?.state == .checking else { preconditionFailure("invalid state: check of \(server) ended while \(String(describing: servers[server]?.state))") }
        var actions = Actions()
        if !paused, let waiter = waiting.removeFirst() {
            link(server, to: waiter.client, waitedMicroseconds: waitedMicroseconds(since: waiter.since), &actions)
        } else {
            move(server, to: .idle(since: now))
        }
        serveWaiters(&actions)
        return actions
    }

    /// `server_check_query` failed: nobody sees the server, it closes.
    mutating func checkFailed(_ server: ServerID) -> Actions {
        guard servers[server]?.state == .checking else { preconditionFailure("invalid state: check of \(server) failed while \(String(describing: servers[server]?.state))") }
        return [close(server, reason: "check_failed")]
    }

    // MARK: timers

    /// The login backoff is over: open servers again if clients still wait.
    mutating func retryTimerFired(now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        retryPending = false
        var actions = Actions()
        openServersIfNeeded(&actions)
        return actions
    }

    /// The first waiter has waited `reserve_pool_timeout`: the reserve may open; look again later while clients wait.
    mutating func reserveTimerFired(now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        var actions = Actions()
        openServersIfNeeded(&actions)
        if !waiting.isEmpty { actions.append(.scheduleReserveCheck(afterMilliseconds: reserveCheckDelay)) }
        return actions
    }

    /// Once a second: close servers idle too long or past their lifetime, keeping `min_pool_size`
    /// (the most recently used), and open one towards `min_pool_size`.
    mutating func janitorTick(now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        var actions = Actions()
        var keep = settings.minPoolSize
        for id in idleStack.reversed() {
            guard let server = servers[id], case .idle(let since) = server.state else { continue }
            if server.pastLifetime(now: now) {
                actions.append(close(id, reason: "lifetime"))
            } else if keep > 0 {
                keep -= 1
            } else if Double(now &- since) >= settings.serverIdleTimeout * 1000 {
                actions.append(close(id, reason: "idle_timeout"))
            }
        }
        // Towards min_pool_size; after failed logins too, one probe at a time once the backoff
        // (nobody waits: up to server_login_retry) has passed, so the pool is warm again when the
        // upstream is back.
        let mayOpen = lastConnectFailure == nil
            || (connectingCount == 0 && Double(now &- lastFailureAt) >= retryDelay(clientsWait: false) * 1000)
        if !retired && serverCount < settings.minPoolSize && mayOpen && !retryPending {
            openServer(&actions)
        }
        if !waiting.isEmpty { openServersIfNeeded(&actions) }
        noticeColdStartWaiters(&actions)
        return actions
    }

    // MARK: admin and configuration

    /// PAUSE: stop lending servers; the idle ones close now, the others as they come back.
    mutating func pauseRequested() -> Actions {
        paused = true
        return closeIdle(reason: "paused")
    }

    /// RESUME: lend servers again, starting with whoever waited first.
    mutating func resumeRequested(now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        paused = false
        var actions = Actions()
        serveWaiters(&actions)
        return actions
    }

    /// KILL: close every server now (linked clients get an error from their server).
    mutating func killRequested() -> Actions { closeAll(reason: "killed") }

    /// The process shuts down: close every server.
    mutating func shutdownRequested() -> Actions { closeAll(reason: "shutdown") }

    /// The database was removed from the config: idle servers close now, the others when released.
    mutating func databaseRemoved() -> Actions {
        retired = true
        return closeIdle(reason: "database_removed")
    }

    /// A config reload: new settings (the database is back if it was retired); a new upstream
    /// URL closes the idle servers, which were logged in to the old one.
    mutating func settingsChanged(_ settings: PoolSettings, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        let urlChanged = settings.url != self.settings.url
        self.settings = settings
        var actions = urlChanged ? closeIdle(reason: "config_changed") : []
        retired = false
        serveWaiters(&actions)
        return actions
    }

    /// The pool's notification listener opened or closed (`count` 0 or 1): it counts against
    /// `max_db_connections` (never leaving the pool less than one server), outside `pool_size`.
    mutating func listenerServersChanged(_ count: Int, now: UInt64, userServers: Int) -> Actions {
        begin(now: now, userServers: userServers)
        listenerServers = count
        var actions = Actions()
        openServersIfNeeded(&actions)
        return actions
    }
}
