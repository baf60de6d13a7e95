// SnapshotCounters: the cumulative numbers one snapshot yields for counters (pure; deltas are SluiceMetrics's job).
import SluiceCore

/// A cumulative number read from the snapshot. `source` names where it comes from (a pool, a raw
/// reason), so several sources can feed one counter and each is followed on its own.
struct CounterSample {
    var metric: MetricName
    var labels: [(String, String)]
    var source: String
    var cumulative: UInt64
}

enum SnapshotCounters {
    /// The limits `sluice_limit_refusals_total` counts, shown from 0.
    static let clientLimits = ["max_client_conn", "max_client_conn_per_address", "max_auth_failures",
                               "max_db_client_connections", "max_user_client_connections"]

    static func samples(_ snapshot: ProxySnapshot) -> [CounterSample] {
        var samples: [CounterSample] = []
        func add(_ metric: MetricName, _ labels: [(String, String)], source: String, _ value: UInt64) {
            samples.append(CounterSample(metric: metric, labels: labels, source: source, cumulative: value))
        }
        for pool in snapshot.pools {
            let database = [("database", pool.database)]
            let source = "pool:" + pool.database
            let stats = pool.stats
            add(MetricCatalog.transactions, database, source: source, stats.transactions)
            add(MetricCatalog.queries, [], source: source, stats.queries)
            add(MetricCatalog.receivedBytes, [], source: source, stats.bytesReceived)
            add(MetricCatalog.sentBytes, [], source: source, stats.bytesSent)
            add(MetricCatalog.serversOpened, database, source: source, stats.serversOpened)
            add(MetricCatalog.connectFailures, database, source: source, stats.connectFailures)
            add(MetricCatalog.queueTimeouts, database, source: source, stats.queueTimeouts)
            add(MetricCatalog.serverChecks, database, source: source, stats.serverChecks)
            add(MetricCatalog.leakSuspectsTotal, database, source: source, stats.leakSuspects)
            add(MetricCatalog.statementsPrepared, database, source: source, stats.statementsPrepared)
            add(MetricCatalog.statementParses, database, source: source, stats.statementParses)
            for kind in SessionPins.allKinds {
                add(MetricCatalog.clientPins, database + [("reason", kind.label)], source: source + ":pin:" + kind.label, stats.pins[kind.label] ?? 0)
            }
            add(MetricCatalog.replicaLagExclusions, database, source: source, stats.replicaLagExclusions)
            for (key, count) in stats.hostsPassedOver {
                let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                add(MetricCatalog.hostsPassedOver, database + [("host", parts[0]), ("reason", parts[1])],
                    source: source + ":passed:" + key, count)
            }
            for reason in ["pinned_client_left", "reset_query_always"] {
                add(MetricCatalog.serverResets, database + [("reason", reason)], source: source + ":reset:" + reason,
                    stats.serverResets[reason] ?? 0)
            }
            add(MetricCatalog.notificationsReceived, database, source: source, stats.notificationsReceived)
            add(MetricCatalog.notificationsDelivered, database, source: source, stats.notificationsDelivered)
            add(MetricCatalog.notificationsDropped, database, source: source, stats.notificationsDropped)
            add(MetricCatalog.notifyQueueOverflows, database, source: source, stats.notifyQueueOverflows)
            add(MetricCatalog.notifyListenerReconnects, database, source: source, stats.notifyListenerReconnects)
        }
        let totals = snapshot.totals
        add(MetricCatalog.clientsAccepted, [], source: "runtime", totals.clientsAccepted)
        add(MetricCatalog.clientsRefused, [], source: "runtime", totals.clientsRefused)
        add(MetricCatalog.authFailures, [], source: "runtime", totals.authFailures)
        add(MetricCatalog.cancelRequests, [], source: "runtime", totals.cancelRequests)
        add(MetricCatalog.queryTimeouts, [], source: "runtime", totals.queryTimeouts)
        for (limit, count) in totals.limitRefusals {
            add(MetricCatalog.limitRefusals, [("limit", CloseReason.label(limit))], source: "limit:" + limit, count)
        }
        // The client limits start at 0, so that the first refusal is an increase an alert can see.
        for limit in clientLimits where totals.limitRefusals[limit] == nil {
            add(MetricCatalog.limitRefusals, [("limit", limit)], source: "limit:" + limit, 0)
        }
        for (key, count) in totals.tlsHandshakes {
            let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
            add(MetricCatalog.tlsHandshakes, [("side", parts[0]), ("version", parts.count > 1 ? parts[1] : "unknown")],
                source: "tls:" + key, count)
        }
        for (key, count) in totals.tlsFailures {
            let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
            add(MetricCatalog.tlsFailures, [("side", parts[0]), ("reason", parts.count > 1 ? CloseReason.label(parts[1]) : "unknown")],
                source: "tlsfail:" + key, count)
        }
        for (reason, count) in totals.clientCloses {
            add(MetricCatalog.clientsClosed, [("reason", CloseReason.label(reason))], source: "reason:" + reason, count)
        }
        for (reason, count) in totals.serverCloses {
            add(MetricCatalog.serversClosed, [("reason", CloseReason.label(reason))], source: "reason:" + reason, count)
        }
        return samples
    }
}
