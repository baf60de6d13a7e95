// PoolMetrics: swift-metrics timers a pool records into (histograms when a Prometheus backend is bootstrapped).
import CoreMetrics

/// Per-database timers, created once per pool so the hot path only records.
struct PoolMetrics {
    let poolWait: CoreMetrics.Timer
    let serverHold: CoreMetrics.Timer
    let transactionDuration: CoreMetrics.Timer
    /// Upstream connect and login time, of cold starts (the pool had no logged-in server, or the
    /// last login had failed) and of the others.
    let upstreamConnectCold: CoreMetrics.Timer
    let upstreamConnectWarm: CoreMetrics.Timer

    init(database: String) {
        let dimensions = [("database", database)]
        poolWait = CoreMetrics.Timer(label: "sluice_pool_wait_seconds", dimensions: dimensions)
        serverHold = CoreMetrics.Timer(label: "sluice_server_hold_seconds", dimensions: dimensions)
        transactionDuration = CoreMetrics.Timer(label: "sluice_transaction_duration_seconds", dimensions: dimensions)
        upstreamConnectCold = CoreMetrics.Timer(label: "sluice_upstream_connect_seconds", dimensions: dimensions + [("start", "cold")])
        upstreamConnectWarm = CoreMetrics.Timer(label: "sluice_upstream_connect_seconds", dimensions: dimensions + [("start", "warm")])
    }
}

extension CoreMetrics.Timer {
    @inline(__always) func recordMilliseconds(_ ms: UInt64) { recordNanoseconds(Int64(ms) * 1_000_000) }
    @inline(__always) func recordMicroseconds(_ us: UInt64) { recordNanoseconds(Int64(us) * 1_000) }
}
