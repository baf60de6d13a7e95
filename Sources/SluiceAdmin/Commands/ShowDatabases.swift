// ShowDatabases: `SHOW DATABASES` — one row per configured database, plus the admin console databases.
import SluiceConfig
import SluiceCore

/// PgBouncer 1.18's `SHOW DATABASES` columns. `force_user` is the upstream URL's user (every client of
/// the database reaches the upstream as it); `pool_mode` is NULL unless the database sets its own, as in
/// PgBouncer; `current_connections` counts its server connections. The admin console databases
/// (`pgbouncer`, `sluice`) have a row each, with NULL host, the listen port and mode `statement`.
final class ShowDatabases: AdminCommand {
    let name = "SHOW DATABASES"
    let requiresAdmin = false

    static let columns: [Column] = [
        .text("name"), .text("host"), .int4("port"), .text("database"), .text("force_user"),
        .int4("pool_size"), .int4("min_pool_size"), .int4("reserve_pool"), .text("pool_mode"),
        .int4("max_connections"), .int4("current_connections"), .int4("paused"), .int4("disabled"),
    ]

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        let config = snapshot.config
        var rows: [(String, [Value])] = []
        for (name, database) in config.databases {
            let pool = snapshot.pools.first { $0.database == name }
            let connections = pool.map { $0.serversActive + $0.serversIdle + $0.serversUsed + $0.serversTested + $0.serversLogin }
            rows.append((name, [
                .text(name), .text(database.url.host), .int(database.url.port), .text(database.url.database),
                .text(database.url.user), .int(config.poolSize(for: database)), .int(config.minPoolSize(for: database)),
                .int(0), .text(database.poolMode?.rawValue), .int(0), .int(connections ?? 0),
                .bool(pool?.paused ?? false), .int(0),
            ]))
        }
        let listenPort = config.listen.first?.port ?? 0
        for name in adminDatabaseNames {
            rows.append((name, [
                .text(name), .null, .int(listenPort), .text(name), .text(name), .int(0), .int(0), .int(0),
                .text("statement"), .int(0), .int(0), .int(0), .int(0),
            ]))
        }
        var result = ResultSet(Self.columns)
        for (_, values) in rows.sorted(by: { $0.0 < $1.0 }) { result.append(values) }
        return .rows(result)
    }
}
