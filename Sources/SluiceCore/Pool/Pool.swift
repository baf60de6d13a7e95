// Pool: one database's upstream connections, its FIFO queue of waiting clients, and recycling.
import Logging
import PostgresWire
import SluiceIO

/// The server connections of one database and the clients waiting for one.
/// Loop-confined. Every server state change goes through `move(_:to:)`, which keeps the counters.
public final class Pool {
    public private(set) var settings: PoolSettings
    unowned(unsafe) let runtime: ProxyRuntime  // the runtime outlives every connection and pool
    var logger: Logger { runtime.logger }

    /// Idle servers, most recently used last (handed out LIFO so the rest can time out).
    private(set) var idle: [ServerConnection] = []
    /// Every server of this pool by id, whatever its state.
    private(set) var servers: [ObjectIdentifier: ServerConnection] = [:]
    /// Clients that need a server, first come first served.
    private var waiting = FIFOQueue<ClientConnection>()
    /// Clients that finished authentication before any server told us its parameters.
    private var parameterWaiters: [ClientConnection] = []
    /// ParameterStatus values of the first server that logged in (what clients are told at login).
    public private(set) var serverParameters: [(name: String, value: String)]?
    public private(set) var lastConnectFailure: ServerLoginFailure?
    private var consecutiveFailures = 0
    private var retryTimer: Timer?
    private var janitorTimer: Timer?
    private var reserveTimer: Timer?
    public private(set) var stats = PoolStats()
    /// Set when the database was removed from the config: no new clients, servers close when released.
    public private(set) var retired = false
    /// PAUSE: no server is handed out; servers close as they come back.
    public private(set) var paused = false
    /// Loop time of the last successful server login (0: never).
    public private(set) var lastConnectSuccess: UInt64 = 0
    let metrics: PoolMetrics
    /// Client-side TLS context for this upstream (nil for sslmode=disable), or why it could not be built.
    private(set) var upstreamTLSContext: TLSContext?
    private(set) var upstreamTLSError: String?
    /// sslmode=allow: a plaintext login was refused, so try TLS next time (libpq's fallback).
    var allowNeedsTLS = false

    init(settings: PoolSettings, runtime: ProxyRuntime) {
        self.settings = settings
        self.runtime = runtime
        self.metrics = PoolMetrics(database: settings.database)
        buildTLSContext()
        scheduleJanitor()
    }

    // MARK: counts

    public var serverCount: Int { servers.count }
    public var idleCount: Int { idle.count }
    public var waitingCount: Int { waiting.count }
    public var connectingCount: Int { servers.values.reduce(0) { $0 + ($1.isLoggingIn ? 1 : 0) } }
    public var activeCount: Int { servers.values.reduce(0) { $0 + ($1.isLinked ? 1 : 0) } }
    public var oldestWaitStart: UInt64? { waiting.first?.waitStartedAt }

    private func buildTLSContext() {
        do {
            upstreamTLSContext = try TLSSetup.upstreamContext(settings.url)
            upstreamTLSError = nil
        } catch {
            upstreamTLSContext = nil
            upstreamTLSError = "\(error)"
            logger.error("upstream TLS settings are unusable", metadata: ["database": "\(settings.database)", "error": "\(error)"])
        }
    }

    func update(settings: PoolSettings) {
        let urlChanged = settings.url != self.settings.url
        self.settings = settings
        if urlChanged {
            buildTLSContext()
            for server in idle { server.close(reason: "config_changed") }
        }
        retired = false
        serveWaiters()
    }

    func retire() {
        retired = true
        for server in idle { server.close(reason: "database_removed") }
    }

    // MARK: clients

    /// A logged-in client needs the pool's parameters before it can be told ReadyForQuery.
    func requestParameters(for client: ClientConnection) {
        if serverParameters != nil { client.parametersAvailable(); return }
        parameterWaiters.append(client)
        client.startWaitTimer(seconds: settings.queryWaitTimeout)
        openServersIfNeeded()
    }

    /// A client has a message to send and no server: give it one now or queue it.
    func acquire(for client: ClientConnection) {
        stats.checkoutRequests += 1
        if !paused, waiting.isEmpty, let server = popIdle() {
            link(server, to: client, waitedMicroseconds: 0)
            return
        }
        if settings.maxQueueLength > 0 && waiting.count >= settings.maxQueueLength {
            stats.queueRefusals += 1
            client.closeWithError(ErrorResponse(severity: .fatal, code: SQLState.tooManyConnections,
                                                message: "too many clients waiting for a server of database \"\(settings.database)\" (max_queue_length=\(settings.maxQueueLength))"),
                                  reason: "max_queue_length")
            return
        }
        client.waitStartedAt = runtime.loop.now
        waiting.append(client)
        client.startWaitTimer(seconds: settings.queryWaitTimeout)
        if waiting.count == 1 && settings.reservePoolSize > 0 { scheduleReserveCheck() }
        openServersIfNeeded()
    }

    /// When the first client starts waiting, look again once it has waited `reserve_pool_timeout`.
    private func scheduleReserveCheck() {
        reserveTimer?.cancel()
        reserveTimer = runtime.loop.timers.schedule(now: runtime.loop.now,
                                                    afterMilliseconds: UInt64(settings.reservePoolTimeout * 1000) + 1) {
            [self] in  // strong: pools are never freed, and a weak reference would slow every retain of self
            self.reserveTimer = nil
            self.openServersIfNeeded()
            if !self.waiting.isEmpty { self.scheduleReserveCheck() }
        }
    }

    /// Servers this pool may have now: `pool_size`, plus `reserve_pool_size` while a client has
    /// waited longer than `reserve_pool_timeout`, never above `max_db_connections`.
    var serverCapacity: Int {
        var capacity = settings.poolSize
        if settings.reservePoolSize > 0, let oldest = oldestWaitStart,
           Double(runtime.loop.now &- oldest) >= settings.reservePoolTimeout * 1000 {
            capacity += settings.reservePoolSize
        }
        if settings.maxDBConnections > 0 { capacity = min(capacity, settings.maxDBConnections) }
        return capacity
    }

    /// The client is gone or timed out; forget it if it was waiting.
    func cancelWait(for client: ClientConnection) {
        waiting.remove { $0 === client }
        parameterWaiters.removeAll { $0 === client }
    }

    /// The most recently used idle server that needs no check. Servers idle longer than
    /// `server_check_delay` are checked first and come back through `release` (or close).
    private func popIdle() -> ServerConnection? {
        while let server = idle.popLast() {
            guard server.isUsable else { server.close(reason: "unusable"); continue }
            if Double(runtime.loop.now &- server.idleSince) >= settings.serverCheckDelay * 1000 {
                startCheck(server)
                continue
            }
            return server
        }
        return nil
    }

    /// Runs `server_check_query` on an idle server; a failure closes it and nobody sees it.
    private func startCheck(_ server: ServerConnection) {
        stats.serverChecks += 1
        server.runCheck(settings.serverCheckQuery) { [self, server] ok in
            if ok {
                server.becameIdle(now: self.runtime.loop.now)
                if !self.paused, let client = self.waiting.removeFirst() {
                    // Checked just now: straight to the longest waiter, not through popIdle again.
                    let waited = (self.runtime.loop.now - client.waitStartedAt) * 1000
                    self.link(server, to: client, waitedMicroseconds: waited)
                } else {
                    self.idle.append(server)
                }
                self.serveWaiters()
            } else {
                server.close(reason: "check_failed")
            }
        }
    }

    private func link(_ server: ServerConnection, to client: ClientConnection, waitedMicroseconds: UInt64) {
        stats.waitMicroseconds += waitedMicroseconds
        metrics.poolWait.recordMicroseconds(waitedMicroseconds)
        stats.checkouts += 1
        client.serverAssigned(server)
        server.link(to: client)
    }

    // MARK: servers

    /// A server finished its transaction (or its client left, and it is clean): reuse or close it.
    func release(_ server: ServerConnection) {
        if retired || paused || server.pastLifetime(now: runtime.loop.now) {
            server.close(reason: retired ? "database_removed" : paused ? "paused" : "lifetime")
            serveWaiters()
            return
        }
        if waiting.isEmpty && servers.count > settings.poolSize {
            // A reserve server whose rush is over.
            server.close(reason: "reserve_released")
            return
        }
        server.becameIdle(now: runtime.loop.now)
        idle.append(server)
        serveWaiters()
    }

    /// Hands idle servers to waiting clients in arrival order.
    private func serveWaiters() {
        if paused { return }
        while !waiting.isEmpty, let server = popIdle() {
            let client = waiting.removeFirst()!
            let waited = (runtime.loop.now - client.waitStartedAt) * 1000
            link(server, to: client, waitedMicroseconds: waited)
        }
        openServersIfNeeded()
    }

    /// Opens servers while clients wait and the pool has room, unless backing off after failures.
    private func openServersIfNeeded() {
        guard retryTimer == nil, !retired, !paused else { return }
        let demand = waiting.count + (serverParameters == nil && !parameterWaiters.isEmpty ? 1 : 0)
        guard demand > 0 else { return }  // the common case after every transaction: nothing to open
        var connecting = 0
        for server in servers.values where server.isLoggingIn || server.isTesting { connecting += 1 }
        let capacity = serverCapacity
        var wanted = min(demand - connecting, capacity - servers.count)
        if servers.count + connecting == 0 && demand > 0 && capacity > 0 { wanted = max(wanted, 1) }
        if settings.maxUserConnections > 0 {
            wanted = min(wanted, settings.maxUserConnections - runtime.serverCount(upstreamUser: settings.url.user))
        }
        var opened = 0
        while opened < wanted && servers.count < capacity {
            if servers.count >= settings.poolSize { stats.reserveServersOpened += 1 }
            openServer()
            opened += 1
        }
    }

    private func openServer() {
        let server = ServerConnection(pool: self, runtime: runtime)
        servers[ObjectIdentifier(server)] = server
        stats.serversOpened += 1
        server.connect()
    }

    /// The upstream's ParameterStatus values, learnt by this pool's first server or by another
    /// worker's pool of the same database: logins waiting for them finish.
    func learnServerParameters(_ parameters: [(name: String, value: String)]) {
        guard serverParameters == nil else { return }
        serverParameters = parameters
        let waiters = parameterWaiters
        parameterWaiters.removeAll()
        for client in waiters { client.parametersAvailable() }
    }

    /// Login finished: remember parameters, let waiting logins finish, then serve the queue.
    func serverReady(_ server: ServerConnection, parameters: [(name: String, value: String)], connectMicroseconds: UInt64) {
        metrics.upstreamConnect.recordMicroseconds(connectMicroseconds)
        lastConnectSuccess = runtime.loop.now
        consecutiveFailures = 0
        lastConnectFailure = nil
        if serverParameters == nil {
            learnServerParameters(parameters)
            // The other workers' pools of this database may have clients waiting for them too
            // (a paused pool, or one with no server yet, cannot learn them itself).
            runtime.group?.shareServerParameters(parameters, database: settings.database, from: runtime)
        }
        release(server)
    }

    /// A login attempt failed: retry with backoff, or fail the waiting clients when it cannot help.
    func serverLoginFailed(_ server: ServerConnection, failure: ServerLoginFailure) {
        if settings.url.sslMode == .allow, !allowNeedsTLS, failure.code == SQLState.invalidAuthorizationSpecification {
            allowNeedsTLS = true  // libpq's sslmode=allow: plaintext was refused, try TLS at once
            forget(server)
            openServersIfNeeded()
            return
        }
        lastConnectFailure = failure
        consecutiveFailures += 1
        stats.connectFailures += 1
        forget(server)
        logger.warning("server login failed", metadata: [
            "database": "\(settings.database)", "host": "\(settings.url.host):\(settings.url.port)",
            "error": "\(failure)", "retry": "\(failure.retryable)"])
        if !failure.retryable {
            failAllWaiting(ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                         message: "server login to database \"\(settings.database)\" failed: \(failure.message)",
                                         detail: "upstream SQLSTATE \(failure.code)"))
            return
        }
        guard !waiting.isEmpty || !parameterWaiters.isEmpty else { return }
        let base = min(0.25 * Double(1 << min(consecutiveFailures - 1, 10)), max(settings.serverLoginRetry, 0.05))
        let delay = base * Double.random(in: 0.75...1.25)
        retryTimer = runtime.loop.timers.schedule(now: runtime.loop.now, afterMilliseconds: UInt64(delay * 1000)) {
            [self] in
            self.retryTimer = nil
            self.openServersIfNeeded()
        }
    }

    private func failAllWaiting(_ error: ErrorResponse) {
        let clients = waiting.drain() + parameterWaiters
        parameterWaiters.removeAll()
        for client in clients { client.closeWithError(error, reason: "server_login_failed") }
    }

    /// The error a client gets when its wait for a server runs out.
    func waitTimeoutError() -> ErrorResponse {
        stats.queueTimeouts += 1
        if let failure = lastConnectFailure {
            return ErrorResponse(severity: .fatal, code: SQLState.connectionFailure,
                                 message: "could not connect to the server of database \"\(settings.database)\" within query_wait_timeout (\(formatSeconds(settings.queryWaitTimeout))): \(failure.message)")
        }
        return ErrorResponse(severity: .fatal, code: SQLState.protocolViolation,
                             message: "query_wait_timeout: no server connection of database \"\(settings.database)\" became free within \(formatSeconds(settings.queryWaitTimeout)) (pool_size=\(settings.poolSize))")
    }

    /// A server closed (any reason): drop it and open another if clients wait.
    func serverClosed(_ server: ServerConnection) {
        forget(server)
        stats.serversClosed += 1
        openServersIfNeeded()
    }

    private func forget(_ server: ServerConnection) {
        servers[ObjectIdentifier(server)] = nil
        idle.removeAll { $0 === server }
    }

    @inline(__always) func countQuery() { stats.queries += 1 }

    // MARK: prepared statements

    /// Server-side names of statements, shared by every client and server of this pool.
    private var statementNames: [StatementKey: String] = [:]
    private var nextStatementNumber = 0

    func countStatementParse() { stats.statementParses += 1 }
    func countLeakSuspect() { stats.leakSuspects += 1 }
    func countQueryTime(microseconds: UInt64) { stats.queryMicroseconds &+= microseconds }

    /// The server-side name for a statement (the same for identical text and parameter types).
    func serverStatementName(for key: StatementKey) -> String {
        if let name = statementNames[key] { return name }
        nextStatementNumber += 1
        let name = "sluice_\(nextStatementNumber)"
        statementNames[key] = name
        stats.statementsPrepared += 1
        return name
    }
    @inline(__always) func countReceived(_ n: Int) { stats.bytesReceived &+= UInt64(n) }
    @inline(__always) func countSent(_ n: Int) { stats.bytesSent &+= UInt64(n) }

    /// A transaction (or a lone statement) finished after `durationMilliseconds`.
    func transactionEnded(durationMilliseconds: UInt64) {
        stats.transactions += 1
        stats.transactionMicroseconds &+= durationMilliseconds * 1000
        metrics.transactionDuration.recordMilliseconds(durationMilliseconds)
    }

    /// A client gave its server back after holding it this long.
    func serverHeld(milliseconds: UInt64) {
        metrics.serverHold.recordMilliseconds(milliseconds)
    }

    // MARK: janitor

    private func scheduleJanitor() {
        janitorTimer = runtime.loop.timers.scheduleRepeating(now: runtime.loop.now, everyMilliseconds: 1000) { [self] in
            self.janitor()
        }
    }

    /// Once a second: close servers idle too long or past their lifetime, keeping `min_pool_size`.
    func janitor() {
        let now = runtime.loop.now
        var keep = settings.minPoolSize
        for server in idle.reversed() {
            if server.pastLifetime(now: now) {
                server.close(reason: "lifetime")
            } else if keep > 0 {
                keep -= 1
            } else if Double(now - server.idleSince) >= settings.serverIdleTimeout * 1000 {
                server.close(reason: "idle_timeout")
            }
        }
        if !retired && servers.count < settings.minPoolSize && lastConnectFailure == nil && retryTimer == nil {
            openServer()
        }
        if !waiting.isEmpty { openServersIfNeeded() }
    }

    /// PAUSE: stop lending servers; close the idle ones now and the others as they come back.
    func pause() {
        paused = true
        for server in idle { server.close(reason: "paused") }
    }

    /// RESUME: lend servers again, starting with whoever waited first.
    func resume() {
        paused = false
        serveWaiters()
    }

    /// KILL: close every server now (their clients get an error).
    func killServers() {
        for server in Array(servers.values) { server.close(reason: "killed") }
    }

    /// Copies the servers' state for the admin console and metrics.
    var allServers: [ServerConnection] { Array(servers.values) }

    func shutdown() {
        janitorTimer?.cancel()
        retryTimer?.cancel()
        for server in Array(servers.values) { server.close(reason: "shutdown") }
    }
}

/// Counters of one pool, read by logs, the admin console and metrics.
public struct PoolStats: Sendable {
    public init() {}
    /// Bytes received from clients and sent to them (PgBouncer's total_received / total_sent).
    public var bytesReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// Microseconds servers spent linked to clients in transactions / in queries.
    public var transactionMicroseconds: UInt64 = 0
    public var queryMicroseconds: UInt64 = 0
    public var checkoutRequests: UInt64 = 0
    public var checkouts: UInt64 = 0
    public var waitMicroseconds: UInt64 = 0
    public var transactions: UInt64 = 0
    public var queries: UInt64 = 0
    public var serversOpened: UInt64 = 0
    public var serversClosed: UInt64 = 0
    public var connectFailures: UInt64 = 0
    public var serverChecks: UInt64 = 0
    /// Clients that became leak suspects (once per hold).
    public var leakSuspects: UInt64 = 0
    public var reserveServersOpened: UInt64 = 0
    public var queueRefusals: UInt64 = 0
    /// Distinct statements named on the server side, and Parse messages sent for them.
    public var statementsPrepared: UInt64 = 0
    public var statementParses: UInt64 = 0
    public var queueTimeouts: UInt64 = 0
}

func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}
