// PoolStats: one pool's counters (PgBouncer's SHOW STATS totals and Sluice's own), and how seconds are written in errors.

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
    /// Clients pinned to their server by session state, by kind (`SessionPins.label`), once per client and kind.
    public var pins: [String: UInt64] = [:]
    /// Servers reset before reuse in transaction mode: `pinned_client_left`, `reset_query_always`.
    public var serverResets: [String: UInt64] = [:]
    /// Hosts of a multi-host URL passed over by a connection attempt, by `host:port` and reason
    /// (`unreachable`, `wrong_role`), keyed `"host:port reason"`.
    public var hostsPassedOver: [String: UInt64] = [:]
    /// Times a standby went over `max_replica_lag` (and stopped getting new transactions).
    public var replicaLagExclusions: UInt64 = 0
    /// LISTEN/NOTIFY relay: notifications the listener received, written to clients, and discarded
    /// with clients closed for a full queue; those clients; listener connections reopened after a loss or failure.
    public var notificationsReceived: UInt64 = 0
    public var notificationsDelivered: UInt64 = 0
    public var notificationsDropped: UInt64 = 0
    public var notifyQueueOverflows: UInt64 = 0
    public var notifyListenerReconnects: UInt64 = 0
}

func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}
