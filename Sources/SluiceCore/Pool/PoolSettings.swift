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
    /// Transaction mode: run `serverResetQuery` after every transaction (`server_reset_query_always`).
    public var serverResetQueryAlways: Bool
    /// Standbys further behind than this (seconds) get no new transactions; 0: not checked.
    public var maxReplicaLag: Double
    public var replicaLagCheckInterval: Double
    /// `server_loss`: whether a client linked to a lost server is kept (`recover`) or closed (`close`).
    public var serverLoss: ServerLoss
    public var queryWaitTimeout: Double
    public var serverConnectTimeout: Double
    public var serverLoginRetry: Double
    public var coldStartNoticeAfter: Double
    public var serverLifetime: Double
    public var serverIdleTimeout: Double
    public var reservePoolSize: Int
    public var reservePoolTimeout: Double
    public var maxDBConnections: Int
    public var maxUserConnections: Int
    public var maxQueueLength: Int
    public var serverCheckDelay: Double
    public var serverCheckQuery: String
    /// LISTEN/NOTIFY relay (`notify_relay`, per database too) and its bounds.
    public var notifyRelay: Bool
    public var notifyQueueLimit: Int
    public var notifyQueueBytes: Int
    public var notifyMaxChannels: Int

    public init(config: SluiceConfig, database db: DatabaseConfig) {
        database = db.name
        url = db.url
        poolSize = config.poolSize(for: db)
        minPoolSize = config.minPoolSize(for: db)
        mode = config.poolMode(for: db)
        serverResetQuery = config.serverResetQuery
        serverResetQueryAlways = config.serverResetQueryAlways
        maxReplicaLag = db.maxReplicaLag ?? config.maxReplicaLag
        replicaLagCheckInterval = config.replicaLagCheckInterval
        serverLoss = config.serverLoss(for: db)
        queryWaitTimeout = config.queryWaitTimeout
        serverConnectTimeout = config.serverConnectTimeout
        serverLoginRetry = config.serverLoginRetry
        coldStartNoticeAfter = config.coldStartNoticeAfter
        serverLifetime = config.serverLifetime
        serverIdleTimeout = config.serverIdleTimeout
        reservePoolSize = config.reservePoolSize(for: db)
        reservePoolTimeout = config.reservePoolTimeout
        maxDBConnections = config.maxDBConnections(for: db)
        maxUserConnections = config.maxUserConnections(for: db.url.user)
        maxQueueLength = config.maxQueueLength
        serverCheckDelay = config.serverCheckDelay
        serverCheckQuery = config.serverCheckQuery
        notifyRelay = config.notifyRelay(for: db)
        notifyQueueLimit = config.notifyQueueLimit
        notifyQueueBytes = config.notifyQueueBytes
        notifyMaxChannels = config.notifyMaxChannels
    }
}

extension PoolSettings {
    /// Worker `worker`'s part of these settings when `workers` loops run: each worker has its own
    /// pool per database, and the server-side sizes (`pool_size`, `min_pool_size`,
    /// `reserve_pool_size`, `max_db_connections`, `max_user_connections`, `max_queue_length`)
    /// are divided between the workers, the remainder going to the first ones, so that the
    /// process as a whole keeps to the configured numbers. A non-zero size never drops below
    /// one per worker (with `pool_size` < `workers` the process may open `workers` servers).
    public func share(worker: Int, of workers: Int) -> PoolSettings {
        guard workers > 1 else { return self }
        func part(_ total: Int, atLeastOne: Bool) -> Int {
            guard total > 0 else { return 0 }
            let base = total / workers + (worker < total % workers ? 1 : 0)
            return atLeastOne ? max(base, 1) : base
        }
        var settings = self
        settings.poolSize = part(poolSize, atLeastOne: true)
        settings.minPoolSize = min(part(minPoolSize, atLeastOne: false), settings.poolSize)
        settings.reservePoolSize = part(reservePoolSize, atLeastOne: false)
        settings.maxDBConnections = part(maxDBConnections, atLeastOne: true)
        settings.maxUserConnections = part(maxUserConnections, atLeastOne: true)
        settings.maxQueueLength = part(maxQueueLength, atLeastOne: true)
        return settings
    }
}
