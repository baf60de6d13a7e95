// Router: what a login names — a pooled database or the admin console — with credentials and TLS policy.
import SluiceConfig

/// Answers the questions a client's startup packet raises, from the configuration alone. A value:
/// `ProxyRuntime` rebuilds it at start and at every reload, and asks it at each login.
struct Router {
    /// Names clients use for the admin console.
    static let adminDatabases: Set<String> = ["sluice", "pgbouncer"]

    private(set) var config: SluiceConfig
    private var credentials = CredentialStore()

    init(config: SluiceConfig) {
        self.config = config
        credentials.rebuild(from: config)
    }

    /// A new configuration (secrets already derived for unchanged passwords are kept).
    mutating func apply(_ config: SluiceConfig) {
        self.config = config
        credentials.rebuild(from: config)
    }

    func isAdminDatabase(_ name: String) -> Bool { Self.adminDatabases.contains(name) }

    /// The login's target: the console (any known user's credentials), a database served by
    /// `pool` (nil: no such database, or one removed from the config), or none.
    func lookup(database: String, user: String, pool: PoolSettings?) -> LoginLookup {
        if isAdminDatabase(database) {
            return .database(credentials: credentials.lookupAny(user: user), tlsRequired: config.clientTLS(for: nil) == .require)
        }
        guard let pool else { return .unknownDatabase }
        return .database(credentials: credentials.lookup(user: user, database: pool),
                         tlsRequired: config.clientTLS(for: config.databases[database]) == .require)
    }

    /// The console privilege of `user`; nil when `user` is in neither `admin_users` nor
    /// `stats_users` (the client is refused with 42501) or `database` is not the console.
    func adminPrivilege(database: String, user: String) -> AdminPrivilege? {
        guard isAdminDatabase(database) else { return nil }
        if config.adminUsers.contains(user) { return .admin }
        if config.statsUsers.contains(user) { return .stats }
        return nil
    }

    /// Whether an SSLRequest is answered 'S': a certificate is loaded and some policy allows TLS.
    func clientTLSAvailable(certificateLoaded: Bool) -> Bool {
        guard certificateLoaded else { return false }
        if config.clientTLS(for: nil) != .disable { return true }
        return config.databases.values.contains { config.clientTLS(for: $0) != .disable }
    }
}
