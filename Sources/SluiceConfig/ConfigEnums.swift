// ConfigEnums: the closed sets of words some keys accept.

/// `pool_mode`: when a server connection goes back to the pool.
public enum PoolMode: String, Sendable, Equatable, Hashable, CaseIterable {
    /// At client disconnect (after `server_reset_query`).
    case session
    /// At every ReadyForQuery with status `I` (outside a transaction).
    case transaction
}

/// `client_auth`: the password exchange clients must complete.
public enum ClientAuthMethod: String, Sendable, Equatable, Hashable, CaseIterable {
    case scramSHA256 = "scram-sha-256"
    case md5
}

/// `log_level`: least severe message logged (swift-log's levels).
public enum LogLevel: String, Sendable, Equatable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// The upstream URL's `sslmode`, with libpq's meanings.
public enum SSLMode: String, Sendable, Equatable, Hashable, CaseIterable {
    case disable, allow, prefer, require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"
}
