// ShowLists: `SHOW LISTS` — counts of the proxy's objects, under PgBouncer's list names.
import SluiceCore

/// PgBouncer 1.18's twelve rows. Sluice keeps no free-object caches and no DNS cache, so
/// `free_clients`, `free_servers` and the `dns_*` rows are 0. `databases` counts the admin console
/// databases too (as `SHOW DATABASES` lists them); `users` counts `[users]` entries and upstream users.
final class ShowLists: AdminCommand {
    let name = "SHOW LISTS"
    let requiresAdmin = false

    static let columns: [Column] = [.text("list"), .int4("items")]

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        var users = Set(snapshot.config.users.keys)
        for pool in snapshot.pools { users.insert(pool.upstreamUser) }
        for database in snapshot.config.databases.values { users.insert(database.url.user) }
        let counts: [(String, Int)] = [
            ("databases", snapshot.config.databases.count + adminDatabaseNames.count),
            ("users", users.count),
            ("pools", snapshot.pools.count),
            ("free_clients", 0),
            ("used_clients", snapshot.clients.count),
            ("login_clients", snapshot.clients.filter { $0.state == "login" }.count),
            ("free_servers", 0),
            ("used_servers", snapshot.servers.count),
            ("dns_names", 0),
            ("dns_zones", 0),
            ("dns_queries", 0),
            ("dns_pending", 0),
        ]
        var result = ResultSet(Self.columns)
        for (list, items) in counts { result.append([.text(list), .int(items)]) }
        return .rows(result)
    }
}
