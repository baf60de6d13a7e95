// ProxyRuntime: the running proxy on its event loop: listeners, router, pools, clients, reload, shutdown.
import Foundation
import Logging
import PostgresWire
import SluiceConfig
import SluiceIO
import CSluiceShim

/// Everything one running Sluice owns. Loop-confined unless a method says otherwise.
public final class ProxyRuntime: @unchecked Sendable {
    public let loop: EventLoop
    public private(set) var config: SluiceConfig
    public var logger: Logger
    private(set) var pools: [String: Pool] = [:]
    /// Logins' targets, credentials and TLS policy, rebuilt at every reload.
    private(set) var router: Router
    private var listeners: [Listener] = []
    private(set) var clients: [UInt64: ClientConnection] = [:]
    /// The BackendKeyData given to this worker's clients (ProxyRuntime+Cancel.swift).
    var cancelKeys = CancelKeys()
    private var idCounter: UInt64 = 0
    public internal(set) var stats = RuntimeStats()
    private(set) var clientAuthentication: ClientAuthentication
    public private(set) var shuttingDown = false
    /// The admin console implementation (SluiceAdmin), set by the executable.
    public var adminConsole: AdminConsole?
    /// Re-reads the config (RELOAD); set by the executable.
    public var reloadHandler: (() -> Void)?
    /// Stops the process (SHUTDOWN); set by the executable.
    public var shutdownHandler: (() -> Void)?
    /// Unix time at start, and the loop time it corresponds to.
    let startedAtUnix = Date().timeIntervalSince1970
    private(set) var startedAtLoop: UInt64 = 0
    /// The janitor's once-a-second tick (ProxyRuntime+Janitor.swift).
    var janitorTimer: SluiceIO.Timer?
    private var tlsLoadError: Error?
    /// Live client counts for the client limits, shared by every worker.
    let limits: ClientLimitBook
    /// Per-application_name statistics, shared by every worker (each records into its own block).
    let applications: ApplicationBook
    /// This runtime's place among the `workers` loops (0 when there is one).
    public let worker: Int
    public let workerCount: Int
    /// The workers this runtime belongs to (nil: a runtime of its own, e.g. in tests).
    private(set) weak var group: WorkerGroup?

    /// The group made this runtime one of its workers.
    func joined(_ group: WorkerGroup) { self.group = group }
    private var exemptNetworks: [CIDR] = []
    /// TLS toward clients (nil: no certificate configured).
    private(set) var clientTLSContext: TLSContext?

    public convenience init(config: SluiceConfig, logger: Logger) throws {
        try self.init(config: config, logger: logger, worker: 0, workerCount: 1, limits: ClientLimitBook(),
                      applications: ApplicationBook(limit: config.metricsApplicationLimit, workers: 1))
    }

    init(config: SluiceConfig, logger: Logger, worker: Int, workerCount: Int, limits: ClientLimitBook,
         applications: ApplicationBook) throws {
        self.config = config
        self.logger = logger
        self.worker = worker
        self.workerCount = max(workerCount, 1)
        self.limits = limits
        self.applications = applications
        // The loop lingers on its readiness set for up to 5 ms at a time while traffic comes, so a
        // busy loop is woken by the kernel like PgBouncer's instead of via libdispatch's manager
        // thread (Benchmarks/RESULTS.md, "Third pass"). SLUICE_LOOP_LINGER_MS=0 turns it off
        // (a measurement knob).
        let linger = getenv("SLUICE_LOOP_LINGER_MS").flatMap { Int(String(cString: $0)) }
            ?? EventLoop.defaultLingerMilliseconds
        self.loop = try EventLoop(index: worker, lingerMilliseconds: linger)
        self.clientAuthentication = config.clientAuth == .md5 ? .md5 : .scramSHA256
        self.router = Router(config: SluiceConfig())
    }

    /// Client and server ids, unique across workers: `id % workers` is the worker that owns it.
    func nextID() -> UInt64 {
        idCounter += 1
        return idCounter &* UInt64(workerCount) &+ UInt64(worker)
    }

    public var clientCount: Int { clients.count }

    // MARK: start

    /// Binds the listeners and builds the pools (call on the loop). Throws if nothing could be bound.
    public func start() throws {
        try start(listening: true)
    }

    /// Builds the pools and, when `listening`, binds the listeners (a worker other than the first
    /// gets its clients from the first one's listeners).
    func start(listening: Bool) throws {
        startedAtLoop = loop.now
        apply(config)
        if let tlsLoadError { throw tlsLoadError }
        scheduleLeakCheck()
        guard listening else { return }
        var bound: [String] = []
        for address in config.listen {
            guard let socketAddress = SocketAddress(numericHost: address.host, port: address.port) else {
                throw IOError.resolve("listen address \(address) is not a numeric IPv4 or IPv6 address")
            }
            let listener = try Listener(address: socketAddress, loop: loop) { [unowned self] fd, peer in
                self.accept(fd: fd, peer: peer)
            }
            try listener.start()
            listeners.append(listener)
            bound.append("\(listener.address)")
        }
        logger.notice("listening", metadata: ["addresses": "\(bound.joined(separator: ", "))",
                                              "databases": "\(config.databases.keys.sorted().joined(separator: ", "))",
                                              "pool_mode": "\(config.poolMode.rawValue)"])
    }

    /// The bound listen addresses (after start; port 0 resolves to the real port).
    public var listenAddresses: [SocketAddress] { listeners.map(\.address) }

    // MARK: config

    private func apply(_ config: SluiceConfig) {
        exemptNetworks = config.limitExemptAddresses.compactMap(CIDR.init)
        do {
            clientTLSContext = try TLSSetup.clientContext(config)
        } catch {
            // At start this is fatal (see start()); at reload the previous certificate stays in use.
            logger.error("could not load the client TLS certificate; keeping the previous one",
                         metadata: ["error": "\(error)", "cert": "\(config.clientTLSCert ?? "")"])
            tlsLoadError = error
        }
        self.config = config
        clientAuthentication = config.clientAuth == .md5 ? .md5 : .scramSHA256
        router.apply(config)
        for (name, database) in config.databases {
            let whole = PoolSettings(config: config, database: database)
            if worker == 0 && whole.poolSize > 0 && whole.poolSize < workerCount {
                logger.warning("pool_size is below workers: every worker keeps at least one server, so the database may have more server connections than pool_size",
                               metadata: ["database": "\(name)", "pool_size": "\(whole.poolSize)", "workers": "\(workerCount)"])
            }
            let settings = whole.share(worker: worker, of: workerCount)
            if let pool = pools[name] { pool.update(settings: settings) } else { pools[name] = Pool(settings: settings, runtime: self) }
        }
        for (name, pool) in pools where config.databases[name] == nil { pool.retire() }
        logger.logLevel = Logger.Level(config.logLevel)
    }

    /// Applies a new configuration without dropping clients. Listen addresses need a restart.
    public func reload(_ newConfig: SluiceConfig) {
        if newConfig.listen != config.listen {
            logger.warning("listen addresses changed in the config; they take effect at the next restart")
        }
        if newConfig.metricsApplicationLimit != config.metricsApplicationLimit {
            logger.warning("metrics_application_limit changed in the config; it takes effect at the next restart")
        }
        var merged = newConfig
        merged.listen = config.listen
        merged.metricsApplicationLimit = config.metricsApplicationLimit
        apply(merged)
        logger.notice("configuration reloaded", metadata: ["databases": "\(newConfig.databases.keys.sorted().joined(separator: ", "))"])
    }

    func pool(named name: String) -> Pool? {
        guard let pool = pools[name], !pool.retired else { return nil }
        return pool
    }

    func lookup(database: String, user: String) -> LoginLookup {
        router.lookup(database: database, user: user, pool: pool(named: database)?.settings)
    }

    var clientTLSAvailable: Bool { router.clientTLSAvailable(certificateLoaded: clientTLSContext != nil) }

    func adminPrivilege(database: String, user: String) -> AdminPrivilege? {
        router.adminPrivilege(database: database, user: user)
    }

    func isAdminDatabase(_ name: String) -> Bool { router.isAdminDatabase(name) }

    // MARK: clients

    /// A connection from the listener: the limits are checked here, in accept order, then the
    /// connection goes to a worker (this one when there is only one).
    private func accept(fd: Int32, peer: SocketAddress) {
        if let (error, limit) = refusalAtAccept(host: peer.host) {
            refuse(fd: fd, peer: peer, error: error, limit: limit)
            return
        }
        if let group, workerCount > 1 {
            group.route(fd: fd, peer: peer)
        } else {
            adopt(fd: fd, peer: peer)
        }
    }

    private static let shuttingDownError = ErrorResponse(severity: .fatal, code: SQLState.cannotConnectNow,
                                                         message: "the pooler is shutting down")

    private func refuse(fd: Int32, peer: SocketAddress, error: ErrorResponse, limit: String) {
        let socket = TCPSocket(fd: fd)
        _ = socket.write(error.encoded)
        socket.close()
        stats.clientsAccepted += 1
        stats.clientsRefused += 1
        stats.limitRefusals[limit, default: 0] += 1
        logger.info("client refused", metadata: ["client": "\(peer)", "reason": "\(error.message ?? "")"])
    }

    /// Takes a connection `accept` counted in, on this worker's loop.
    func adopt(fd: Int32, peer: SocketAddress) {
        if shuttingDown {
            limits.release(host: peer.host, database: "", user: "", admitted: false)
            refuse(fd: fd, peer: peer, error: Self.shuttingDownError, limit: "shutdown")
            return
        }
        stats.clientsAccepted += 1
        let client = ClientConnection(fd: fd, peer: peer, runtime: self)
        clients[client.id] = client
        applyKeepalive(client.socket)
        do { try client.start() } catch {
            clients[client.id] = nil
            limits.release(host: peer.host, database: "", user: "", admitted: false)
            client.socket.close()
        }
    }

    /// TCP keepalive per `tcp_keepalive`, `tcp_keepidle`, `tcp_keepintvl`, `tcp_keepcnt`.
    func applyKeepalive(_ socket: TCPSocket) {
        guard config.tcpKeepalive else { return }
        socket.setKeepAlive(idle: config.tcpKeepidle, interval: config.tcpKeepintvl, count: config.tcpKeepcnt)
    }

    private func isExempt(_ host: String) -> Bool { exemptNetworks.contains { $0.contains(host) } }

    /// Limits checked before reading anything: shutdown, max_client_conn, per address, auth throttling.
    private func refusalAtAccept(host: String) -> (ErrorResponse, String)? {
        if shuttingDown {
            return (Self.shuttingDownError, "shutdown")
        }
        // Counts the client in when nothing refuses it (released in clientClosed).
        return limits.admitConnection(host: host, exempt: isExempt(host), config: config, now: loop.now)
    }

    /// Per-database and per-user client limits, checked after the startup packet and before
    /// authentication. Returns the refusal, or nil after counting the client in.
    func admit(database: String, user: String, applicationName: String) -> ErrorResponse? {
        let databaseLimit = config.databases[database].map { config.maxDBClientConnections(for: $0) } ?? 0
        if let (error, limit) = limits.admitLogin(database: database, user: user, databaseLimit: databaseLimit,
                                                   userLimit: config.maxUserClientConnections(for: user)) {
            stats.limitRefusals[limit, default: 0] += 1
            if let refusal = ApplicationBook.Refusal(reason: limit) {
                applications.countRefusal(refusal, rawName: applicationName, worker: worker)
            }
            return error
        }
        return nil
    }

    /// A login failed authentication: counts toward `max_auth_failures` of its address.
    func recordAuthFailure(host: String) {
        stats.authFailures += 1
        guard config.maxAuthFailures > 0, !isExempt(host) else { return }
        limits.recordAuthFailure(host: host, now: loop.now)
    }

    /// Server connections to one upstream user across all pools (for `max_user_connections`).
    func serverCount(upstreamUser: String) -> Int {
        pools.values.reduce(0) { $0 + ($1.settings.url.user == upstreamUser ? $1.serverCount + $1.listenerServerCount : 0) }
    }

    func clientLoggedIn(_ client: ClientConnection) {
        stats.clientLogins += 1
        logger.info("client login", metadata: [
            "client": "\(client.peer)", "database": "\(client.database)", "user": "\(client.user)",
            "application_name": "\(client.applicationName)", "pid": "\(client.processID)"])
    }

    func clientClosed(_ client: ClientConnection, reason: String, wasLoggedIn: Bool, quiet: Bool, error: ErrorResponse?) {
        clients[client.id] = nil
        limits.release(host: client.peer.host, database: client.database, user: client.user, admitted: client.admitted)
        if client.processID != 0 { cancelKeys.remove(processID: client.processID, client: client.id) }
        stats.clientCloses[reason, default: 0] += 1
        if client.pool != nil, let refusal = ApplicationBook.Refusal(reason: reason) {
            applications.countRefusal(refusal, slot: client.applicationSlot, worker: worker)  // max_queue_length, query_wait_timeout
        }
        if quiet {
            logger.debug("client closed", metadata: ["client": "\(client.peer)", "reason": "\(reason)"])
            return
        }
        var metadata: Logger.Metadata = [
            "client": "\(client.peer)", "database": "\(client.database)", "user": "\(client.user)",
            "application_name": "\(client.applicationName)", "reason": "\(reason)"]
        if let error { metadata["error"] = "\(error.code ?? "") \(error.message ?? "")" }
        if wasLoggedIn {
            logger.info("client logout", metadata: metadata)
        } else {
            logger.info("client login failed", metadata: metadata)
        }
    }


    func countTLSHandshake(side: String, version: String?, failure: String?) {
        if let failure {
            stats.tlsFailures["\(side):\(failure)", default: 0] += 1
        } else {
            stats.tlsHandshakes["\(side):\(version ?? "unknown")", default: 0] += 1
        }
    }

    func countServerClose(reason: String) { stats.serverCloses[reason, default: 0] += 1 }

    // MARK: admin actions

    /// Carries out what an admin console command asked for.
    public func perform(_ action: AdminAction) {
        logger.notice("admin command", metadata: ["action": "\(action)"])
        if let group, workerCount > 1 {
            group.perform(action)
        } else {
            performLocally(action)
        }
    }

    /// Carries out an admin action on this worker's clients and pools.
    func performLocally(_ action: AdminAction) {
        switch action {
        case .pause(let name):
            for (poolName, pool) in pools where name == nil || poolName == name { pool.pause() }
        case .resume(let name):
            for (poolName, pool) in pools where name == nil || poolName == name { pool.resume() }
        case .reload:
            reloadHandler?()
        case .kill(let name):
            let error = ErrorResponse(severity: .fatal, code: SQLState.adminShutdown,
                                      message: "terminating connection due to KILL \(name) from the admin console")
            for client in Array(clients.values) where client.database == name { client.closeWithError(error, reason: "killed") }
            pools[name]?.killServers()
        case .killClient(let id):
            clients[id]?.closeWithError(ErrorResponse(severity: .fatal, code: SQLState.adminShutdown,
                                                      message: "terminating connection due to KILL_CLIENT from the admin console"),
                                        reason: "killed")
        case .shutdown:
            if let shutdownHandler { shutdownHandler() } else { shutdown {} }
        }
    }

    /// Listening, not shutting down, no pool paused, and every database's upstream reachable recently.
    public var isReady: Bool {
        guard !listeners.isEmpty || worker > 0, !shuttingDown else { return false }  // only the first worker listens
        for pool in pools.values where !pool.retired {
            if pool.paused { return false }
            if pool.lastConnectFailure != nil && loop.now &- pool.lastConnectSuccess > 60_000 { return false }
        }
        return true
    }

    // MARK: shutdown

    /// Stops accepting; waits for linked clients to finish up to `shutdown_timeout`, then calls `done`.
    public func shutdown(done: @escaping () -> Void) {
        guard !shuttingDown else { return }
        shuttingDown = true
        for listener in listeners { listener.close() }
        listeners.removeAll()
        logger.notice("shutting down", metadata: ["clients": "\(clients.count)"])
        let deadline = loop.now + UInt64(config.shutdownTimeout * 1000)
        waitForIdle(deadline: deadline, done: done)
    }

    private func waitForIdle(deadline: UInt64, done: @escaping () -> Void) {
        let busy = clients.values.filter { $0.server != nil || $0.phase == .waiting }.count
        if busy == 0 || loop.now >= deadline {
            let error = ErrorResponse(severity: .fatal, code: SQLState.adminShutdown,
                                      message: "terminating connection due to pooler shutdown")
            for client in Array(clients.values) { client.closeWithError(error, reason: "shutdown") }
            for pool in pools.values { pool.shutdown() }
            done()
            return
        }
        _ = loop.timers.schedule(now: loop.now, afterMilliseconds: 100) { [weak self] in
            self?.waitForIdle(deadline: deadline, done: done)
        }
    }
}

/// This build's version, shown by `SHOW VERSION` and the admin console's server_version.
public let sluiceVersion = "Sluice 0.1.0"

/// Process-wide counters.
public struct RuntimeStats: Sendable {
    public var clientsAccepted: UInt64 = 0
    public var clientsRefused: UInt64 = 0
    public var clientLogins: UInt64 = 0
    public var authFailures: UInt64 = 0
    public var cancelRequests: UInt64 = 0
    public var cancelsForwarded: UInt64 = 0
    public var leakSuspects: UInt64 = 0
    public var queryTimeouts: UInt64 = 0
    /// Clients refused by each limit ("max_client_conn", "max_db_client_connections", …).
    public var limitRefusals: [String: UInt64] = [:]
    /// Completed TLS handshakes by "client:TLSv1.3" / "server:TLSv1.3".
    public var tlsHandshakes: [String: UInt64] = [:]
    /// Failed TLS handshakes by "client:<reason>" / "server:<reason>" (reasons from a fixed set).
    public var tlsFailures: [String: UInt64] = [:]
    public var clientCloses: [String: UInt64] = [:]
    public var serverCloses: [String: UInt64] = [:]
}

extension Logger.Level {
    init(_ level: LogLevel) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}
