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
    private var credentials = CredentialStore()
    private var listeners: [Listener] = []
    private var clients: [UInt64: ClientConnection] = [:]
    private var cancelKeys: [Int32: ClientConnection] = [:]
    private var idCounter: UInt64 = 0
    public private(set) var stats = RuntimeStats()
    private(set) var clientAuthentication: ClientAuthentication
    public private(set) var shuttingDown = false

    public init(config: SluiceConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.loop = try EventLoop(index: 0)
        self.clientAuthentication = config.clientAuth == .md5 ? .md5 : .scramSHA256
    }

    func nextID() -> UInt64 { idCounter += 1; return idCounter }

    public var clientCount: Int { clients.count }

    // MARK: start

    /// Binds the listeners and builds the pools (call on the loop). Throws if nothing could be bound.
    public func start() throws {
        apply(config)
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
        self.config = config
        clientAuthentication = config.clientAuth == .md5 ? .md5 : .scramSHA256
        credentials.rebuild(from: config)
        for (name, database) in config.databases {
            let settings = PoolSettings(config: config, database: database)
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
        var merged = newConfig
        merged.listen = config.listen
        apply(merged)
        logger.notice("configuration reloaded", metadata: ["databases": "\(newConfig.databases.keys.sorted().joined(separator: ", "))"])
    }

    func pool(named name: String) -> Pool? {
        guard let pool = pools[name], !pool.retired else { return nil }
        return pool
    }

    func lookup(database: String, user: String) -> LoginLookup {
        guard let pool = pool(named: database) else { return .unknownDatabase }
        return .database(credentials: credentials.lookup(user: user, database: pool.settings))
    }

    // MARK: clients

    private func accept(fd: Int32, peer: SocketAddress) {
        stats.clientsAccepted += 1
        let client = ClientConnection(fd: fd, peer: peer, runtime: self)
        if shuttingDown || clients.count >= config.maxClientConn {
            let message = shuttingDown ? "the pooler is shutting down"
                : "no more connections allowed (max_client_conn=\(config.maxClientConn))"
            let error = ErrorResponse(severity: .fatal, code: shuttingDown ? SQLState.cannotConnectNow : SQLState.tooManyConnections,
                                      message: message)
            _ = client.socket.write(error.encoded)
            client.socket.close()
            stats.clientsRefused += 1
            logger.info("client refused", metadata: ["client": "\(peer)", "reason": "\(message)"])
            return
        }
        clients[client.id] = client
        do { try client.start() } catch {
            clients[client.id] = nil
            client.socket.close()
        }
    }

    func clientLoggedIn(_ client: ClientConnection) {
        stats.clientLogins += 1
        logger.info("client login", metadata: [
            "client": "\(client.peer)", "database": "\(client.database)", "user": "\(client.user)",
            "application_name": "\(client.applicationName)"])
    }

    func clientClosed(_ client: ClientConnection, reason: String, wasLoggedIn: Bool, quiet: Bool, error: ErrorResponse?) {
        clients[client.id] = nil
        if client.processID != 0, cancelKeys[client.processID] === client { cancelKeys[client.processID] = nil }
        stats.clientCloses[reason, default: 0] += 1
        if quiet { return }
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

    func countAuthFailure() { stats.authFailures += 1 }

    func countServerClose(reason: String) { stats.serverCloses[reason, default: 0] += 1 }

    // MARK: cancel

    /// A fresh BackendKeyData for a client, unique among live clients.
    func registerCancelKey(for client: ClientConnection) -> (Int32, UInt32) {
        while true {
            let bytes = secureRandomBytes(8)
            let pid = Int32(bitPattern: UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])) & 0x7fff_ffff
            let key = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
            guard pid != 0, cancelKeys[pid] == nil else { continue }
            cancelKeys[pid] = client
            return (pid, key)
        }
    }

    /// Forwards a CancelRequest to the server backend the client is using, if any.
    func forwardCancel(processID: Int32, secretKey: UInt32) {
        stats.cancelRequests += 1
        guard let client = cancelKeys[processID],
              constantTimeEquals(withUnsafeBytes(of: client.secretKey) { Array($0) },
                                 withUnsafeBytes(of: secretKey) { Array($0) }) else {
            logger.debug("cancel request for an unknown key ignored")
            return
        }
        guard let server = client.server, let key = server.backendKey, let pool = client.pool else { return }
        let packet = StartupPacket.cancelRequest(processID: key.processID, secretKey: key.secretKey).encoded
        CancelForwarder.send(packet, host: pool.settings.url.host, port: pool.settings.url.port,
                             timeout: pool.settings.serverConnectTimeout, loop: loop)
        stats.cancelsForwarded += 1
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

/// Process-wide counters.
public struct RuntimeStats: Sendable {
    public var clientsAccepted: UInt64 = 0
    public var clientsRefused: UInt64 = 0
    public var clientLogins: UInt64 = 0
    public var authFailures: UInt64 = 0
    public var cancelRequests: UInt64 = 0
    public var cancelsForwarded: UInt64 = 0
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
