// Snapshot: a copy of the proxy's state for the admin console and metrics (commands read it, never the pools).
import SluiceConfig
import PostgresWire

/// Everything the admin console and `/metrics` show, copied on the loop at one instant.
public struct ProxySnapshot: Sendable {
    public var version: String
    /// Unix time (seconds) the process started and the snapshot was taken.
    public var startedAt: Double
    public var takenAt: Double
    public var paused: Bool
    public var shuttingDown: Bool
    public var config: SluiceConfig
    public var pools: [PoolSnapshot]
    public var clients: [ClientSnapshot]
    public var servers: [ServerSnapshot]
    public var totals: RuntimeStats
    /// Per-application_name statistics (the process's `ApplicationBook`, read by the first worker).
    public var applications: ApplicationReading?
    /// Clients holding a server longer than `leak_detection_threshold` (subset of `clients`).
    public var leakSuspects: [ClientSnapshot] {
        let threshold = config.leakDetectionThreshold
        guard threshold > 0 else { return [] }
        return clients.filter { ($0.heldSeconds ?? 0) >= threshold }
    }
    public init(version: String, startedAt: Double, takenAt: Double, paused: Bool, shuttingDown: Bool, config: SluiceConfig,
                pools: [PoolSnapshot], clients: [ClientSnapshot], servers: [ServerSnapshot], totals: RuntimeStats) {
        self.version = version
        self.startedAt = startedAt
        self.takenAt = takenAt
        self.paused = paused
        self.shuttingDown = shuttingDown
        self.config = config
        self.pools = pools
        self.clients = clients
        self.servers = servers
        self.totals = totals
    }
}

/// One pool (one `[databases.NAME]`).
public struct PoolSnapshot: Sendable {
    public var database: String
    public var upstreamUser: String
    public var upstreamHost: String
    public var upstreamPort: Int
    public var upstreamDatabase: String
    public var mode: PoolMode
    public var poolSize: Int
    public var minPoolSize: Int
    public var paused: Bool
    /// Clients by state: "active" (holding a server), "waiting", "idle", "login".
    public var clientsActive: Int
    public var clientsWaiting: Int
    public var clientsIdle: Int
    /// Active clients whose server is inside a transaction and idle (ReadyForQuery 'T'/'E').
    public var clientsIdleInTransaction: Int
    public var clientsLogin: Int
    /// Servers by state: "active" (linked), "idle", "used" (running Sluice's own cleanup), "tested", "login".
    public var serversActive: Int
    public var serversIdle: Int
    public var serversUsed: Int
    public var serversTested: Int
    public var serversLogin: Int
    /// Seconds the oldest waiting client has waited (0 when none waits).
    public var maxWaitSeconds: Double
    public var stats: PoolStats
    public var lastConnectError: String?
    /// Each standby host's last measured replication lag in seconds, by `host:port` (`max_replica_lag`).
    public var replicaLag: [String: Double] = [:]
    /// LISTEN/NOTIFY relay: channels wanted (subscribed, or a LISTEN pending), clients subscribed to
    /// at least one, listener connections open (one per worker's pool at most). Per worker's pool,
    /// summed when workers merge (a channel listened by two workers counts twice).
    public var notifyChannels = 0
    public var notifySubscribers = 0
    public var notifyListeners = 0
}

/// One client connection.
public struct ClientSnapshot: Sendable {
    public var id: UInt64
    public var user: String
    public var database: String
    /// "login", "idle", "waiting", "active", "idle_in_transaction" (active, server idle inside a transaction).
    public var state: String
    public var address: String
    public var port: Int
    public var connectedAt: Double
    /// Unix time of the last request (last message forwarded, or login).
    public var requestAt: Double
    public var waitSeconds: Double
    public var applicationName: String
    /// Id of the server it holds.
    public var serverID: UInt64?
    /// Seconds it has held that server.
    public var heldSeconds: Double?
    /// 'I', 'T' or 'E' of its server; nil without a server.
    public var transactionStatus: String?
    /// The BackendKeyData process id the client was given: its login server's real backend pid in
    /// session mode (after a recovery the client's server may be another backend), else Sluice-made.
    public var processID: Int32
    public var tls: String?
    /// First 200 characters of the last simple Query or Parse text (only with `log_leak_queries`).
    public var lastQuery: String?
    public var isAdmin: Bool
    /// Kinds of session state pinning it to its server (`temp_table,advisory_lock`), "" when none.
    public var pinned: String = ""
}

/// One upstream connection.
public struct ServerSnapshot: Sendable {
    public var id: UInt64
    public var database: String
    public var user: String
    /// "active", "idle", "used", "tested", "login".
    public var state: String
    public var address: String
    public var port: Int
    public var connectedAt: Double
    public var requestAt: Double
    public var backendPID: Int32
    public var clientID: UInt64?
    public var applicationName: String
    public var tls: String?
    /// `primary`, `standby` or `unknown` (from the server's `in_hot_standby`); "" while logging in.
    public var role: String = ""
}

/// What the admin console asks the runtime to do after replying.
public enum AdminAction: Sendable, Equatable {
    /// Stop handing out servers (all databases when nil); servers close as they are released.
    case pause(String?)
    /// Hand out servers again.
    case resume(String?)
    /// Re-read the config file (like SIGHUP).
    case reload
    /// Close every client and server of the database now.
    case kill(String)
    /// Close one client by id.
    case killClient(UInt64)
    /// Stop the process gracefully (like SIGTERM).
    case shutdown
}

/// Privilege of an admin console session.
public enum AdminPrivilege: Sendable { case admin, stats }

/// The reply to one console query: messages to send (without ReadyForQuery) and an optional action.
public struct AdminReply: Sendable {
    public var bytes: [UInt8]
    public var action: AdminAction?
    public init(bytes: [UInt8], action: AdminAction? = nil) {
        self.bytes = bytes
        self.action = action
    }
}

/// Implemented by SluiceAdmin: runs one console query against a snapshot. Called on the loop.
public protocol AdminConsole: AnyObject {
    func execute(query: String, privilege: AdminPrivilege, snapshot: ProxySnapshot) -> AdminReply
}
