// PoolSettings: what a pool needs from the config, resolved once per (re)load.
import SluiceConfig

/// A database's pool settings with global defaults applied.
public struct PoolSettings: Sendable {
    public var database: String
    public var url: UpstreamURL
    public var poolSize: Int
    public var minPoolSize: Int
    public var mode: PoolMode
    public var serverResetQuery: String
    public var queryWaitTimeout: Double
    public var serverConnectTimeout: Double
    public var serverLoginRetry: Double
    public var serverLifetime: Double
    public var serverIdleTimeout: Double
    public var reservePoolSize: Int
    public var reservePoolTimeout: Double
    public var maxDBConnections: Int
    public var maxUserConnections: Int
    public var maxQueueLength: Int
    public var serverCheckDelay: Double
    public var serverCheckQuery: String

    public init(config: SluiceConfig, database db: DatabaseConfig) {
        database = db.name
        url = db.url
        poolSize = config.poolSize(for: db)
        minPoolSize = config.minPoolSize(for: db)
        mode = config.poolMode(for: db)
        serverResetQuery = config.serverResetQuery
        queryWaitTimeout = config.queryWaitTimeout
        serverConnectTimeout = config.serverConnectTimeout
        serverLoginRetry = config.serverLoginRetry
        serverLifetime = config.serverLifetime
        serverIdleTimeout = config.serverIdleTimeout
        reservePoolSize = config.reservePoolSize(for: db)
        reservePoolTimeout = config.reservePoolTimeout
        maxDBConnections = config.maxDBConnections(for: db)
        maxUserConnections = config.maxUserConnections(for: db.url.user)
        maxQueueLength = config.maxQueueLength
        serverCheckDelay = config.serverCheckDelay
        serverCheckQuery = config.serverCheckQuery
    }
}
