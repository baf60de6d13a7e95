// ClientConnection+Views: the client's phase and the read-only views of its session (for the snapshot, the janitor and the server).

extension ClientConnection {
    /// Where the client is, from the connection's stage and, after login, the session machine's phase.
    var phase: Phase {
        switch stage {
        case .startup: return .startup
        case .tlsHandshake: return .tlsHandshake
        case .login: return .login
        // A login waiting in the pool's queue for its server waits like any client (SHOW CLIENTS, cl_waiting).
        case .awaitingParameters: return session.phase == .waiting ? .waiting : .awaitingParameters
        case .admin: return .admin
        case .closed: return .closed
        case .session:
            switch session.phase {
            case .idle: return .idle
            case .waiting: return .waiting
            case .linked: return .linked
            case .closed: return .closed
            }
        }
    }

    var phaseName: String { phase.rawValue }

    // Read-only views of the session for the snapshot, the janitor and the server.
    /// The settings this client expects on whichever server it uses.
    var wanted: SessionParameters { session.wanted }
    /// Loop time (ms) the current transaction started (first message after ReadyForQuery 'I'); nil when idle.
    var busySince: UInt64? { session.busySince }
    /// Loop time (ms) of the last message forwarded (or sent to the console).
    var requestAt: UInt64 { admin?.requestAt ?? session.requestAt }
    /// Loop time (ms) the current server was linked.
    var linkedAt: UInt64 { session.linkedAt }
    /// Already reported as a leak suspect in this transaction.
    var leakReported: Bool { session.leakReported }
    /// First 200 characters of the last statement (only with `log_leak_queries`).
    var lastQuery: String? { session.lastQuery }
    var adminPrivilege: AdminPrivilege? { admin?.privilege }
}
