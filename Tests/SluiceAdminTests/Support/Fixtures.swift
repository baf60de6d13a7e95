// Fixtures: hand-built snapshots (two databases, a few clients and servers) for the admin tests.
@testable import SluiceCore
import SluiceConfig

enum Fixtures {
    /// 2024-05-01 12:00:00 UTC.
    static let now: Double = 1_714_564_800

    static func config() -> SluiceConfig {
        var config = SluiceConfig()
        config.databases["app"] = DatabaseConfig(
            name: "app", url: UpstreamURL(host: "ep-cool-123.neon.tech", user: "app_owner", password: "secret", database: "appdb"),
            poolSize: 10, minPoolSize: 2)
        config.databases["reports"] = DatabaseConfig(
            name: "reports", url: UpstreamURL(host: "10.0.0.5", port: 5433, user: "reader"), poolMode: .session)
        config.adminUsers = ["admin"]
        config.statsUsers = ["stats"]
        config.leakDetectionThreshold = 30
        return config
    }

    static func pool(_ database: String, user: String, stats: PoolStats = PoolStats(),
                     clients: (active: Int, waiting: Int, idle: Int, idleInTransaction: Int, login: Int) = (0, 0, 0, 0, 0),
                     servers: (active: Int, idle: Int, used: Int, tested: Int, login: Int) = (0, 0, 0, 0, 0),
                     maxWait: Double = 0, poolSize: Int = 10, minPoolSize: Int = 0, mode: PoolMode = .transaction,
                     paused: Bool = false) -> PoolSnapshot {
        PoolSnapshot(database: database, upstreamUser: user, upstreamHost: "host-\(database)", upstreamPort: 5432,
                     upstreamDatabase: database, mode: mode, poolSize: poolSize, minPoolSize: minPoolSize, paused: paused,
                     clientsActive: clients.active, clientsWaiting: clients.waiting, clientsIdle: clients.idle,
                     clientsIdleInTransaction: clients.idleInTransaction, clientsLogin: clients.login,
                     serversActive: servers.active, serversIdle: servers.idle, serversUsed: servers.used,
                     serversTested: servers.tested, serversLogin: servers.login, maxWaitSeconds: maxWait,
                     stats: stats, lastConnectError: nil)
    }

    static func client(_ id: UInt64, database: String = "app", user: String = "app_owner", state: String = "idle",
                       application: String = "web", connectedAgo: Double = 100, server: UInt64? = nil,
                       held: Double? = nil, transactionStatus: String? = nil, wait: Double = 0,
                       lastQuery: String? = nil, isAdmin: Bool = false) -> ClientSnapshot {
        ClientSnapshot(id: id, user: user, database: database, state: state, address: "10.1.2.3", port: 40000 + Int(id),
                       connectedAt: now - connectedAgo, requestAt: now - 1, waitSeconds: wait, applicationName: application,
                       serverID: server, heldSeconds: held, transactionStatus: transactionStatus, processID: Int32(id),
                       tls: nil, lastQuery: lastQuery, isAdmin: isAdmin)
    }

    static func server(_ id: UInt64, database: String = "app", state: String = "idle", client: UInt64? = nil,
                       pid: Int32 = 4242) -> ServerSnapshot {
        ServerSnapshot(id: id, database: database, user: "app_owner", state: state, address: "ep-cool-123.neon.tech",
                       port: 5432, connectedAt: now - 50, requestAt: now - 2, backendPID: pid, clientID: client,
                       applicationName: client == nil ? "" : "web", tls: "TLSv1.3")
    }

    static func snapshot(pools: [PoolSnapshot]? = nil, clients: [ClientSnapshot] = [], servers: [ServerSnapshot] = [],
                         totals: RuntimeStats = RuntimeStats(), config: SluiceConfig? = nil,
                         takenAt: Double = now) -> ProxySnapshot {
        ProxySnapshot(version: "Sluice 0.1.0", startedAt: now - 3600, takenAt: takenAt, paused: false, shuttingDown: false,
                      config: config ?? Self.config(),
                      pools: pools ?? [pool("app", user: "app_owner"), pool("reports", user: "reader")],
                      clients: clients, servers: servers, totals: totals)
    }
}
