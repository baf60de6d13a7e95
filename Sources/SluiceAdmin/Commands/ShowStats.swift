// ShowStats: `SHOW STATS` — per-database totals from `PoolStats` and averages since the previous SHOW STATS.
import SluiceCore

/// PgBouncer 1.18's `SHOW STATS` columns, all numeric. Times are microseconds.
///
/// Averages are computed as PgBouncer's `calc_average` does, over the interval since this handler's
/// previous `SHOW STATS` (0 on the first): `avg_xact_count`, `avg_query_count`, `avg_recv`, `avg_sent`
/// and `avg_wait_time` per second; `avg_xact_time` and `avg_query_time` per transaction / query.
final class ShowStats: AdminCommand {
    let name = "SHOW STATS"
    let requiresAdmin = false

    static let columns: [Column] = [
        .text("database"),
        .numeric("total_xact_count"), .numeric("total_query_count"), .numeric("total_received"), .numeric("total_sent"),
        .numeric("total_xact_time"), .numeric("total_query_time"), .numeric("total_wait_time"),
        .numeric("avg_xact_count"), .numeric("avg_query_count"), .numeric("avg_recv"), .numeric("avg_sent"),
        .numeric("avg_xact_time"), .numeric("avg_query_time"), .numeric("avg_wait_time"),
    ]

    /// Totals and time of the previous call, per database.
    private var previous: [String: PoolStats] = [:]
    private var previousAt: Double?

    func run(arguments: [String], snapshot: ProxySnapshot) -> CommandOutcome {
        if let refusal = CommandOutcome.noArguments(self, arguments) { return refusal }
        let interval = previousAt.map { snapshot.takenAt - $0 } ?? 0
        var result = ResultSet(Self.columns)
        var current: [String: PoolStats] = [:]
        for pool in snapshot.pools.sorted(by: { $0.database < $1.database }) {
            let stats = pool.stats
            current[pool.database] = stats
            let averages = Averages(now: stats, before: previous[pool.database], seconds: interval)
            result.append([
                .text(pool.database),
                .int(stats.transactions), .int(stats.queries), .int(stats.bytesReceived), .int(stats.bytesSent),
                .int(stats.transactionMicroseconds), .int(stats.queryMicroseconds), .int(stats.waitMicroseconds),
                .int(averages.transactions), .int(averages.queries), .int(averages.received), .int(averages.sent),
                .int(averages.transactionTime), .int(averages.queryTime), .int(averages.waitTime),
            ])
        }
        previous = current
        previousAt = snapshot.takenAt
        return .rows(result)
    }

    /// PgBouncer's `calc_average`; all zero without a previous sample or a positive interval.
    struct Averages {
        var transactions: UInt64 = 0
        var queries: UInt64 = 0
        var received: UInt64 = 0
        var sent: UInt64 = 0
        var transactionTime: UInt64 = 0
        var queryTime: UInt64 = 0
        var waitTime: UInt64 = 0

        init(now: PoolStats, before: PoolStats?, seconds: Double) {
            guard let before, seconds > 0 else { return }
            func delta(_ path: KeyPath<PoolStats, UInt64>) -> UInt64 {
                now[keyPath: path] >= before[keyPath: path] ? now[keyPath: path] - before[keyPath: path] : 0
            }
            func perSecond(_ path: KeyPath<PoolStats, UInt64>) -> UInt64 {
                UInt64((Double(delta(path)) / seconds).rounded(.down))
            }
            transactions = perSecond(\.transactions)
            queries = perSecond(\.queries)
            received = perSecond(\.bytesReceived)
            sent = perSecond(\.bytesSent)
            waitTime = perSecond(\.waitMicroseconds)
            let transactionCount = delta(\.transactions)
            let queryCount = delta(\.queries)
            if transactionCount > 0 { transactionTime = delta(\.transactionMicroseconds) / transactionCount }
            if queryCount > 0 { queryTime = delta(\.queryMicroseconds) / queryCount }
        }
    }
}
