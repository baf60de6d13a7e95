// ConfigEnums: the closed sets of words some keys accept.

/// `pool_mode`: when a server connection goes back to the pool.
public enum PoolMode: String, Sendable, Equatable, Hashable, CaseIterable {
    /// At client disconnect (after `server_reset_query`).
    case session
    /// At every ReadyForQuery with status `I` (outside a transaction).
    case transaction
}

/// `server_loss`: what a client linked to a server is told when that server is lost (its backend
/// terminated, the upstream restarted or suspended).
public enum ServerLoss: String, Sendable, Equatable, Hashable, CaseIterable {
    /// Hide the loss where the client's state is known: it gets a new server at its next request
    /// (an in-flight transaction still fails with 08006). For suspended serverless computes.
    case recover
    /// Close the client with the server's own FATAL (e.g. 57P01), else 08006, as PostgreSQL would:
    /// for pools that check connections (psycopg_pool, PQreset) and for `pg_terminate_backend`.
    case close
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

/// `client_tls`: TLS toward clients. `allow` and `prefer` behave alike on the server side (TLS when
/// the client asks for it); `require` refuses clients that do not use TLS.
public enum ClientTLSMode: String, Sendable, Equatable, Hashable, CaseIterable {
    case disable, allow, prefer, require
}

/// `client_tls_verify`: whether clients must present a certificate signed by `client_tls_ca`.
public enum ClientTLSVerify: String, Sendable, Equatable, Hashable, CaseIterable {
    case none
    case verifyCA = "verify-ca"
    /// As verify-ca, and the certificate's common name must equal the user name.
    case verifyFull = "verify-full"
}

/// `client_tls_min_version`.
public enum TLSProtocolVersion: String, Sendable, Equatable, Hashable, CaseIterable {
    case tls12 = "tlsv1.2"
    case tls13 = "tlsv1.3"
}
