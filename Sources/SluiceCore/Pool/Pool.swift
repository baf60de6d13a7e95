// Pool: runs one database's PoolStateMachine: turns connection and timer events into its events and carries out its actions.
import Logging
import PostgresWire
import SluiceConfig
import SluiceIO

/// The server connections of one database and the clients waiting for one. Loop-confined.
/// Every decision (who gets which server; when to open, check, close, retry) is
/// `PoolStateMachine`'s: this class feeds it events and runs the actions it returns, and owns
/// what the machine must not: the connection objects, timers, TLS context, metrics and logs.
public final class Pool {
    public private(set) var settings: PoolSettings
    unowned(unsafe) let runtime: ProxyRuntime  // the runtime outlives every connection and pool
    var logger: Logger { runtime.logger }

    private var machine: PoolStateMachine
    /// Every server connection of this pool at its `ServerID.slot`, until it reports its close.
    private var connections: [ServerConnection?] = []
    /// Clients in the machine's queues (for a server or for the pool's parameters), by id.
    private var waitingClients: [ClientID: ClientConnection] = [:]
    /// ParameterStatus values of the first server that logged in (what clients are told at login).
    public private(set) var serverParameters: [(name: String, value: String)]? {
        didSet { reportedParameterNames = Set(serverParameters?.map { $0.name.lowercased() } ?? []) }
    }
    /// The names in `serverParameters`, lower-cased: the settings the server reports.
    private(set) var reportedParameterNames: Set<String> = []
    /// How the server spells the values clients write (Pool+Login.swift).
    var canonicalParameters = CanonicalParameters()
    private var retryTimer: Timer?
    private var janitorTimer: Timer?
    private var reserveTimer: Timer?
    /// Traffic counters (bytes, queries, transactions, statement parses, leak suspects); the
    /// decision counters are the machine's, the statements named are `statementNames`'. `stats`
    /// adds them up.
    private var traffic = PoolStats()
    let metrics: PoolMetrics
    /// Client-side TLS context for this upstream (nil for sslmode=disable), or why it could not be built.
    private(set) var upstreamTLSContext: TLSContext?
    private(set) var upstreamTLSError: String?
    /// Transaction mode with `notify_relay`: clients' LISTEN/UNLISTEN queries go to `notifications`.
    private(set) var interceptsListen: Bool
    /// The LISTEN/NOTIFY relay, made at the first LISTEN (Notify/NotificationRelay.swift).
    private(set) var notifications: NotificationRelay?

    init(settings: PoolSettings, runtime: ProxyRuntime) {
        self.settings = settings
        self.runtime = runtime
        self.machine = PoolStateMachine(settings: settings)
        self.metrics = PoolMetrics(database: settings.database)
        self.interceptsListen = Self.interceptsListen(settings)
        buildTLSContext()
        scheduleJanitor()
    }

    // MARK: reading

    public var serverCount: Int { machine.serverCount }
    public var idleCount: Int { machine.idleCount }
    public var waitingCount: Int { machine.waitingCount }
    public var connectingCount: Int { machine.connectingCount }
    public var activeCount: Int { machine.activeCount }
    public var oldestWaitStart: UInt64? { machine.oldestWaitStart }
    /// A checkout now would not queue (`PoolStateMachine.lendsWithoutQueueing`).
    var lendsWithoutQueueing: Bool { machine.lendsWithoutQueueing }
    /// Set when the database was removed from the config: no new clients, servers close when released.
    public var retired: Bool { machine.retired }
    /// PAUSE: no server is handed out; servers close as they come back.
    public var paused: Bool { machine.paused }
    public var lastConnectFailure: ServerLoginFailure? { machine.lastConnectFailure }
    /// Loop time of the last successful server login (0: never).
    public var lastConnectSuccess: UInt64 { machine.lastConnectSuccess }
    /// sslmode=allow: a plaintext login was refused, so try TLS from now on (libpq's fallback).
    var allowNeedsTLS: Bool { machine.allowNeedsTLS }
    public var stats: PoolStats {
        var stats = machine.stats
        stats.add(traffic)
        stats.statementsPrepared = statementNames.named
        if let relay = notifications?.hub.stats {
            stats.notificationsReceived = relay.received
            stats.notificationsDelivered = relay.delivered
            stats.notificationsDropped = relay.dropped
            stats.notifyQueueOverflows = relay.overflows
            stats.notifyListenerReconnects = relay.reconnects
        }
        return stats
    }
    /// The servers' connections, for the admin console and metrics.
    var allServers: [ServerConnection] { connections.compactMap { $0 } }

    /// The connection of a server the machine knows (an array index, no hashing).
    @inline(__always) private func connection(_ id: ServerID) -> ServerConnection? {
        guard id.slot < connections.count, let server = connections[id.slot], server.poolID == id else { return nil }
        return server
    }

    /// Whether `server` is still this pool's (not closed and forgotten).
    @inline(__always) private func isCurrent(_ server: ServerConnection) -> Bool {
        let slot = server.poolID.slot
        return slot < connections.count && connections[slot] === server
    }

    private func forget(_ server: ServerConnection) {
        if isCurrent(server) { connections[server.poolID.slot] = nil }
    }

    /// The inputs of every machine event: the loop time and, when `max_user_connections` is set,
    /// the servers of this pool's upstream user across the runtime (scanning the pools only then).
    private var now: UInt64 { runtime.loop.now }
    private var userServers: Int {
        settings.maxUserConnections > 0 ? runtime.serverCount(upstreamUser: settings.url.user) : machine.serverCount
    }

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

    // MARK: events from clients

    /// A logged-in client needs the pool's parameters before it can be told ReadyForQuery.
    func requestParameters(for client: ClientConnection) {
        run(machine.parametersRequested(ClientID(client.id), now: now, userServers: userServers), requester: client)
    }

    /// A client has a message to send and no server: give it one now or queue it.
    func acquire(for client: ClientConnection) {
        let id = ClientID(client.id)
        // The usual case (an idle server, nobody waiting) needs no action list.
        if let serverID = machine.checkoutFromIdle(id, now: now) {
            if let server = connection(serverID) {
                link(client, to: server, waitedMicroseconds: 0)
            } else {
                run([.linkClient(id, to: serverID, waitedMicroseconds: 0)], requester: client)
            }
            return
        }
        run(machine.checkoutRequested(id, now: now, userServers: userServers), requester: client)
    }

    /// The client is gone: forget it if it waited.
    func cancelWait(for client: ClientConnection) {
        let id = ClientID(client.id)
        waitingClients[id] = nil
        run(machine.clientLeft(id))
    }

    /// The client is gone while holding `server`, which now cleans up (rollback, reset) and then
    /// comes back through `release` or closes.
    func clientLeft(_ client: ClientConnection, holding server: ServerConnection) {
        guard isCurrent(server) else { return }
        run(machine.clientLeft(ClientID(client.id), holding: server.poolID))
    }

    /// The client's `query_wait_timeout` ran out: it gets the error and is closed.
    func waitTimedOut(for client: ClientConnection) {
        let id = ClientID(client.id)
        waitingClients[id] = nil
        run(machine.waitTimedOut(id), requester: client)
    }

    // MARK: events from servers

    /// Login finished: the first server gives the pool its parameters; then it is lent or kept.
    func serverReady(_ server: ServerConnection, parameters: [(name: String, value: String)], connectMicroseconds: UInt64) {
        guard isCurrent(server) else { return }
        let histogram = machine.openedCold(server.poolID) ? metrics.upstreamConnectCold : metrics.upstreamConnectWarm
        histogram.recordMicroseconds(connectMicroseconds)
        // Up to 10% jitter so connections opened together do not expire together.
        run(machine.serverConnected(server.poolID, lifetimeJitter: Double.random(in: 0.9...1.0), now: now, userServers: userServers),
            parameters: parameters)
    }

    /// A login attempt failed (or the server closed while logging in).
    func serverLoginFailed(_ server: ServerConnection, failure: ServerLoginFailure) {
        guard isCurrent(server) else { return }
        forget(server)
        run(machine.serverLoginFailed(server.poolID, failure: failure, retryJitter: Double.random(in: 0.75...1.25),
                                      now: now, userServers: userServers))
    }

    /// A server finished its transaction (or its client left, and it is clean): reuse or close it.
    func release(_ server: ServerConnection) {
        guard isCurrent(server) else { return }  // already closed and forgotten
        if let reason = server.retireReason {
            // Its server turned out to be the wrong kind (a promotion, a demotion): not reused.
            server.close(reason: reason)
            return
        }
        let now = self.now
        // The usual case (back to the idle stack, nobody waiting) needs no action list.
        if machine.releasedToIdle(server.poolID, now: now) {
            server.becameIdle(now: now)
            return
        }
        switch machine.state(of: server.poolID) {
        case .linked?, .draining?: break
        default: return
        }
        server.becameIdle(now: now)
        run(machine.serverReleased(server.poolID, now: now, userServers: userServers))
    }

    /// A server closed (any reason, after login): forget it and open another if clients wait.
    func serverClosed(_ server: ServerConnection) {
        guard isCurrent(server) else { return }
        forget(server)
        run(machine.serverClosed(server.poolID, now: now, userServers: userServers))
    }

    /// The upstream's ParameterStatus values, learnt by another worker's pool of the same
    /// database: logins waiting for them finish.
    func learnServerParameters(_ parameters: [(name: String, value: String)]) {
        guard serverParameters == nil else { return }
        serverParameters = parameters
        run(machine.parametersLearned())
    }

    private func checkFinished(_ server: ServerConnection, ok: Bool) {
        guard isCurrent(server), machine.state(of: server.poolID) == .checking else { return }
        if ok {
            server.becameIdle(now: now)
            run(machine.checkSucceeded(server.poolID, now: now, userServers: userServers))
        } else {
            run(machine.checkFailed(server.poolID))
        }
    }

    // MARK: carrying out actions

    /// Runs the actions of one event in order. `requester` is the client whose request caused the
    /// event (it is not in `waitingClients` yet); `parameters` are those of a server that just logged in.
    private func run(_ actions: PoolStateMachine.Actions, requester: ClientConnection? = nil,
                     parameters: [(name: String, value: String)]? = nil) {
        for action in actions {
            switch action {
            case .linkClient(let clientID, let serverID, let waited):
                guard let server = connection(serverID) else { continue }
                guard let client = takeClient(clientID, requester) else {
                    // Gone between the decision and now: the server comes straight back.
                    run(machine.clientLeft(clientID))
                    release(server)
                    continue
                }
                link(client, to: server, waitedMicroseconds: waited)
            case .connectServer(let id):
                let server = ServerConnection(pool: self, runtime: runtime, poolID: id)
                while connections.count <= id.slot { connections.append(nil) }
                connections[id.slot] = server
                server.connect()
            case .checkServer(let id):
                guard let server = connection(id) else { continue }
                server.runCheck(settings.serverCheckQuery) { [self, server] ok in self.checkFinished(server, ok: ok) }
            case .closeServer(let id, let reason):
                connection(id)?.close(reason: reason)
            case .startWaitTimer(let id, let seconds):
                let client = requester?.id == id.raw ? requester : waitingClients[id]
                guard let client else { continue }
                waitingClients[id] = client
                client.startWaitTimer(seconds: seconds)
            case .closeClient(let id, let error, let reason):
                takeClient(id, requester)?.closeWithError(error, reason: reason)
            case .failWaiters(let ids, let error, let reason):
                for id in ids { takeClient(id, nil)?.closeWithError(error, reason: reason) }
            case .scheduleRetry(let milliseconds):
                retryTimer?.cancel()
                retryTimer = runtime.loop.timers.schedule(now: now, afterMilliseconds: milliseconds) { [self] in
                    // Strong: pools are never freed, and a weak reference would slow every retain of self.
                    self.retryTimer = nil
                    self.run(self.machine.retryTimerFired(now: self.now, userServers: self.userServers))
                }
            case .scheduleReserveCheck(let milliseconds):
                reserveTimer?.cancel()
                reserveTimer = runtime.loop.timers.schedule(now: now, afterMilliseconds: milliseconds) { [self] in
                    self.reserveTimer = nil
                    self.run(self.machine.reserveTimerFired(now: self.now, userServers: self.userServers))
                }
            case .adoptParameters:
                guard serverParameters == nil, let parameters else { continue }
                serverParameters = parameters
                // The other workers' pools of this database may have clients waiting for them too
                // (a paused pool, or one with no server yet, cannot learn them itself).
                runtime.group?.shareServerParameters(parameters, database: settings.database, from: runtime)
            case .parametersAvailable(let ids):
                for id in ids { takeClient(id, requester)?.parametersAvailable() }
            case .noticeColdStart(let id, let seconds):
                waitingClients[id]?.sendColdStartNotice(database: settings.database, waitedSeconds: seconds)
            case .logLoginFailure(_, let failure):
                logger.warning("server login failed", metadata: [
                    "database": "\(settings.database)", "host": "\(settings.url.host):\(settings.url.port)",
                    "error": "\(failure)", "retry": "\(failure.retryable)"])
            }
        }
    }

    /// Carries out `.linkClient`: records the wait, tells the client its server, links the server.
    @inline(__always) private func link(_ client: ClientConnection, to server: ServerConnection, waitedMicroseconds: UInt64) {
        metrics.poolWait.recordMicroseconds(waitedMicroseconds)
        client.serverAssigned(server)
        server.link(to: client)
    }

    /// The client an action names, leaving the waiting list.
    private func takeClient(_ id: ClientID, _ requester: ClientConnection?) -> ClientConnection? {
        if let requester, requester.id == id.raw {
            if !waitingClients.isEmpty { waitingClients[id] = nil }
            return requester
        }
        return waitingClients.removeValue(forKey: id)
    }

    // MARK: configuration and admin commands

    func update(settings: PoolSettings) {
        let urlChanged = settings.url != self.settings.url
        self.settings = settings
        interceptsListen = Self.interceptsListen(settings)
        if urlChanged { buildTLSContext() }
        notifications?.settingsChanged(upstreamChanged: urlChanged)
        run(machine.settingsChanged(settings, now: now, userServers: userServers))
    }

    func retire() { run(machine.databaseRemoved()) }

    /// PAUSE: stop lending servers; close the idle ones now and the others as they come back.
    func pause() { run(machine.pauseRequested()) }

    /// RESUME: lend servers again, starting with whoever waited first.
    func resume() { run(machine.resumeRequested(now: now, userServers: userServers)) }

    /// KILL: close every server now (their clients get an error).
    func killServers() { run(machine.killRequested()) }

    func shutdown() {
        janitorTimer?.cancel()
        retryTimer?.cancel()
        reserveTimer?.cancel()
        notifications?.shutdown()
        run(machine.shutdownRequested())
    }

    private func scheduleJanitor() {
        janitorTimer = runtime.loop.timers.scheduleRepeating(now: runtime.loop.now, everyMilliseconds: 1000) { [self] in
            self.janitor()
        }
    }

    /// Once a second: close servers idle too long or past their lifetime, keeping `min_pool_size`.
    func janitor() {
        notifications?.tick()
        run(machine.janitorTick(now: now, userServers: userServers))
    }

    // MARK: LISTEN/NOTIFY relay

    private static func interceptsListen(_ settings: PoolSettings) -> Bool {
        settings.mode == .transaction && settings.notifyRelay
    }

    /// The relay, made on first use.
    func notificationRelay() -> NotificationRelay {
        if let notifications { return notifications }
        let relay = NotificationRelay(pool: self)
        notifications = relay
        return relay
    }

    /// The notification listener's servers (0 or 1): counted for `max_db_connections` and `max_user_connections`.
    var listenerServerCount: Int { notifications?.serverCount ?? 0 }

    /// The relay opened or closed its listener connection.
    func listenerServersChanged() {
        run(machine.listenerServersChanged(listenerServerCount, now: now, userServers: userServers))
    }

    // MARK: traffic counters

    @inline(__always) func countQuery() { traffic.queries += 1 }
    func countStatementParse() { traffic.statementParses += 1 }
    func countLeakSuspect() { traffic.leakSuspects += 1 }
    /// A client pinned itself to its server with these kinds of session state (each once per client).
    func countPins(_ kinds: SessionPins) {
        for kind in SessionPins.allKinds where kinds.contains(kind) { traffic.pins[kind.label, default: 0] += 1 }
    }
    /// A server is reset before reuse in transaction mode (`pinned_client_left`, `reset_query_always`).
    func countServerReset(_ reason: String) { traffic.serverResets[reason, default: 0] += 1 }
    // MARK: replicas (max_replica_lag)

    /// Each standby host's last measured lag and when (loop ms), for the checks and `/metrics`.
    private(set) var replicaLag: [UpstreamHost: (seconds: Double, at: UInt64)] = [:]

    /// A standby host's lag was read (at a login, or after a transaction). Over `max_replica_lag`,
    /// every server of that host is retired (idle ones now, the others when released).
    func replicaLagMeasured(_ host: UpstreamHost, seconds: Double) {
        let wasLagging = (replicaLag[host]?.seconds ?? 0) > settings.maxReplicaLag
        replicaLag[host] = (seconds, now)
        guard settings.maxReplicaLag > 0 else { return }
        let lagging = seconds > settings.maxReplicaLag
        if lagging != wasLagging {
            runtime.logger.notice(lagging ? "standby too far behind: no new transactions" : "standby caught up", metadata: [
                "database": "\(settings.database)", "host": "\(host)", "lag_s": "\(HostSelection.format(seconds))",
                "max_replica_lag": "\(HostSelection.format(settings.maxReplicaLag))"])
            if lagging { traffic.replicaLagExclusions += 1 }
        }
        guard lagging else { return }
        for server in allServers where server.upstreamHost == host && server.role == .standby { server.retire("replica_lag") }
    }

    /// Whether a server that just finished a transaction should read its standby's lag first: a
    /// standby of a pool with `max_replica_lag`, whose host was not measured for
    /// `replica_lag_check_interval`. A stand-in for a lagging standby (`provisional`) is retired
    /// instead once that interval has passed five times, so a caught-up standby is used again.
    func lagCheckDue(_ server: ServerConnection) -> Bool {
        guard settings.maxReplicaLag > 0 else { return false }
        let interval = UInt64(settings.replicaLagCheckInterval * 1000)
        if server.provisional, now &- server.createdAt >= 5 * interval {
            server.retire("replica_caught_up_check")
            return false
        }
        guard server.role == .standby else { return false }
        guard let last = replicaLag[server.upstreamHost] else { return true }
        return now &- last.at >= interval
    }

    /// A connection attempt passed over a host (`unreachable`, `wrong_role`).
    func countHostPassedOver(_ host: UpstreamHost, reason: String) {
        traffic.hostsPassedOver["\(host) \(reason)", default: 0] += 1
    }
    func countQueryTime(microseconds: UInt64) { traffic.queryMicroseconds &+= microseconds }
    @inline(__always) func countReceived(_ n: Int) { traffic.bytesReceived &+= UInt64(n) }
    @inline(__always) func countSent(_ n: Int) { traffic.bytesSent &+= UInt64(n) }

    /// A transaction (or a lone statement) finished after `durationMilliseconds`.
    func transactionEnded(durationMilliseconds: UInt64) {
        traffic.transactions += 1
        traffic.transactionMicroseconds &+= durationMilliseconds * 1000
        metrics.transactionDuration.recordMilliseconds(durationMilliseconds)
    }

    /// A client gave its server back after holding it this long.
    func serverHeld(milliseconds: UInt64) {
        metrics.serverHold.recordMilliseconds(milliseconds)
    }

    // MARK: prepared statements

    /// Server-side names of statements, shared by every client and server of this pool.
    private var statementNames = StatementNames()

    /// The server-side name for a statement (the same for identical text and parameter types).
    func serverStatementName(for key: StatementKey) -> String {
        statementNames.name(for: key)
    }
}
