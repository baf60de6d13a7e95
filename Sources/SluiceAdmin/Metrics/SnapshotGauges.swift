// SnapshotGauges: the gauge samples one snapshot yields (pure; SluiceMetrics writes them to the registry).
import SluiceCore

/// One gauge value. Labels are sorted by name so a label set always renders the same way.
struct GaugeSample {
    var metric: MetricName
    var labels: [(String, String)]
    var value: Double
}

enum SnapshotGauges {
    /// The label value for clients that sent no application_name.
    static let unnamedApplication = ApplicationName.unnamed

    static func samples(_ snapshot: ProxySnapshot) -> [GaugeSample] {
        var samples: [GaugeSample] = []
        func add(_ metric: MetricName, _ labels: [(String, String)], _ value: Double) {
            samples.append(GaugeSample(metric: metric, labels: labels.sorted { $0.0 < $1.0 }, value: value))
        }
        var databases = Set<String>()
        for pool in snapshot.pools {
            databases.insert(pool.database)
            let pair = [("database", pool.database), ("user", pool.upstreamUser)]
            let clients: [(String, Int)] = [
                ("active", pool.clientsActive), ("waiting", pool.clientsWaiting), ("idle", pool.clientsIdle),
                ("idle_in_transaction", pool.clientsIdleInTransaction), ("login", pool.clientsLogin),
            ]
            for (state, count) in clients { add(MetricCatalog.clients, pair + [("state", state)], Double(count)) }
            let servers: [(String, Int)] = [
                ("active", pool.serversActive), ("idle", pool.serversIdle), ("used", pool.serversUsed),
                ("tested", pool.serversTested), ("login", pool.serversLogin),
            ]
            for (state, count) in servers { add(MetricCatalog.servers, pair + [("state", state)], Double(count)) }
            add(MetricCatalog.poolSize, pair, Double(pool.poolSize))
            add(MetricCatalog.poolMinSize, pair, Double(pool.minPoolSize))
            add(MetricCatalog.poolMaxWait, pair, pool.maxWaitSeconds)
            add(MetricCatalog.poolPaused, pair, pool.paused ? 1 : 0)
            for (host, seconds) in pool.replicaLag.sorted(by: { $0.key < $1.key }) {
                add(MetricCatalog.replicaLag, [("database", pool.database), ("host", host)], seconds)
            }
        }
        for pool in snapshot.pools {
            let database = [("database", pool.database)]
            add(MetricCatalog.notifyChannels, database, Double(pool.notifyChannels))
            add(MetricCatalog.notifySubscribers, database, Double(pool.notifySubscribers))
            add(MetricCatalog.notifyListeners, database, Double(pool.notifyListeners))
        }

        var suspects: [String: Int] = [:]
        for client in snapshot.leakSuspects where databases.contains(client.database) {
            suspects[client.database, default: 0] += 1
        }
        var byHost: [[String]: Int] = [:]
        for server in snapshot.servers where !server.role.isEmpty {
            let host = (server.address.contains(":") ? "[\(server.address)]" : server.address) + ":\(server.port)"
            byHost[[server.database, host, server.role], default: 0] += 1
        }
        for (key, count) in byHost.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            add(MetricCatalog.serversByHost, [("database", key[0]), ("host", key[1]), ("role", key[2])], Double(count))
        }
        var oldest: [String: Double] = [:]
        var pinned: [String: Int] = [:]
        for client in snapshot.clients where databases.contains(client.database) {
            oldest[client.database] = min(oldest[client.database] ?? client.connectedAt, client.connectedAt)
            if !client.pinned.isEmpty { pinned[client.database, default: 0] += 1 }
        }
        for database in databases.sorted() {
            add(MetricCatalog.leakSuspects, [("database", database)], Double(suspects[database] ?? 0))
            let age = oldest[database].map { max(0, snapshot.takenAt - $0) } ?? 0
            add(MetricCatalog.oldestClientAge, [("database", database)], age)
            add(MetricCatalog.clientsPinned, [("database", database)], Double(pinned[database] ?? 0))
        }

        for (name, count) in applicationCounts(snapshot.clients, limit: snapshot.config.metricsApplicationLimit) {
            add(MetricCatalog.clientsByApplication, [("application_name", name)], Double(count))
        }
        add(MetricCatalog.up, [], 1)
        add(MetricCatalog.maxClientConn, [], Double(snapshot.config.maxClientConn))
        return samples
    }

    /// Clients per application_name (as a label: `ApplicationName.label`): the `limit` largest
    /// groups (ties by name), the rest as `other`.
    static func applicationCounts(_ clients: [ClientSnapshot], limit: Int) -> [(String, Int)] {
        var counts: [String: Int] = [:]
        for client in clients {
            counts[ApplicationName.label(client.applicationName), default: 0] += 1
        }
        let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        var result = Array(ranked.prefix(limit)).map { ($0.key, $0.value) }
        let rest = ranked.dropFirst(limit).reduce(0) { $0 + $1.value }
        if rest > 0 {
            if let index = result.firstIndex(where: { $0.0 == "other" }) {
                result[index].1 += rest
            } else {
                result.append(("other", rest))
            }
        }
        return result
    }
}
