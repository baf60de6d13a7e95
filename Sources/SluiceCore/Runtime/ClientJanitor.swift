// ClientJanitor: once a second, which clients have run past a timeout or become leak suspects.

/// The janitor's decisions, as a value: it reads a view of each client and returns what to do.
/// `ProxyRuntime+Janitor` gathers the views, runs the actions (through each connection's own
/// methods) and keeps the counters. Times are loop milliseconds, passed in.
struct ClientJanitor: Equatable {
    /// `client_idle_timeout`, `idle_transaction_timeout`, `query_timeout` in milliseconds (0: off),
    /// and `leak_detection_threshold` in seconds (0: off).
    var clientIdleTimeout: UInt64
    var idleTransactionTimeout: UInt64
    var queryTimeout: UInt64
    var leakDetectionThreshold: Double

    init(clientIdleTimeout: Double, idleTransactionTimeout: Double, queryTimeout: Double, leakDetectionThreshold: Double) {
        self.clientIdleTimeout = UInt64(max(clientIdleTimeout, 0) * 1000)
        self.idleTransactionTimeout = UInt64(max(idleTransactionTimeout, 0) * 1000)
        self.queryTimeout = UInt64(max(queryTimeout, 0) * 1000)
        self.leakDetectionThreshold = leakDetectionThreshold
    }

    /// What the janitor needs to know of one client.
    struct ClientView: Equatable {
        enum State: Equatable {
            /// Logged in, holding no server.
            case idle
            /// Holding a server.
            case linked(server: ServerView)
            /// Anything else (logging in, waiting, the console): no timeout of the janitor's applies.
            case other
        }
        var state: State
        /// Loop time of the last bytes read from the client.
        var lastReadAt: UInt64
        /// Seconds the client has held a server in its current transaction (nil: not busy).
        var heldSeconds: Double?
        /// Already reported as a leak suspect in this hold.
        var leakReported: Bool
    }

    /// What the janitor needs to know of a linked client's server.
    struct ServerView: Equatable {
        /// The server is inside a transaction block (ReadyForQuery said 'T' or 'E').
        var inTransaction: Bool
        /// ReadyForQuery messages still owed: a request is running.
        var pendingReadyForQuery: Int
        /// Loop time the oldest running request was sent (0: none).
        var queryStartedAt: UInt64
        /// query_timeout already fired for the running request.
        var queryTimeoutFired: Bool
    }

    enum TimeoutAction: Equatable {
        /// Close the client with 57P05 `client_idle_timeout` (reason `client_idle_timeout`).
        case closeIdleClient
        /// Close the client with 25P03 `idle_transaction_timeout` (reason `idle_transaction_timeout`);
        /// the server's transaction is rolled back when the client goes.
        case closeIdleInTransaction
        /// Cancel the running request on the server's backend, once; count a query timeout.
        case cancelQuery
    }

    /// The timeout that has run out for this client, if any.
    func timeoutAction(for client: ClientView, now: UInt64) -> TimeoutAction? {
        let quiet = now &- client.lastReadAt
        switch client.state {
        case .idle:
            return clientIdleTimeout > 0 && quiet >= clientIdleTimeout ? .closeIdleClient : nil
        case .linked(let server):
            if idleTransactionTimeout > 0, server.inTransaction, server.pendingReadyForQuery == 0,
               quiet >= idleTransactionTimeout {
                return .closeIdleInTransaction
            }
            if queryTimeout > 0, server.pendingReadyForQuery > 0, server.queryStartedAt > 0, !server.queryTimeoutFired,
               now &- server.queryStartedAt >= queryTimeout {
                return .cancelQuery
            }
            return nil
        case .other:
            return nil
        }
    }

    /// Whether this client should now be reported as a leak suspect (once per hold).
    func isNewLeakSuspect(_ client: ClientView) -> Bool {
        guard leakDetectionThreshold > 0, !client.leakReported, let held = client.heldSeconds else { return false }
        return held >= leakDetectionThreshold
    }

    /// Whether any timeout is on (the janitor skips gathering views when none is).
    var checksTimeouts: Bool { clientIdleTimeout > 0 || idleTransactionTimeout > 0 || queryTimeout > 0 }
}
