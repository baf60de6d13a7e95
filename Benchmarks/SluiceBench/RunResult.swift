// RunResult: the measured outcome of one run (and the whole report), as written to --json.
import Foundation
import Histogram

struct RunParameters: Codable {
    var workload: WorkloadKind
    var `protocol`: QueryProtocol
    var clients: Int
    var threads: Int
    var durationSeconds: Double
    var warmupSeconds: Double
    var idle: Int?
    var sleepSeconds: Double?
    var rowBytes: Int?
    var txPerClient: Int?
}

/// Latency percentiles in milliseconds (microsecond precision).
struct LatencySummary: Codable {
    var p50: Double, p90: Double, p99: Double, p999: Double, max: Double, mean: Double

    init(_ histogram: Histogram<UInt64>) {
        func milliseconds(_ microseconds: UInt64) -> Double { Double(microseconds) / 1_000 }
        let empty = histogram.totalCount == 0
        p50 = empty ? 0 : milliseconds(histogram.valueAtPercentile(50))
        p90 = empty ? 0 : milliseconds(histogram.valueAtPercentile(90))
        p99 = empty ? 0 : milliseconds(histogram.valueAtPercentile(99))
        p999 = empty ? 0 : milliseconds(histogram.valueAtPercentile(99.9))
        max = empty ? 0 : milliseconds(histogram.max)
        mean = empty ? 0 : histogram.mean / 1_000
    }
}

/// One point of HdrHistogram's percentile distribution: the latency at or below which `percentile` % fall.
struct PercentilePoint: Codable, Equatable {
    var percentile: Double
    var latencyMs: Double

    /// HdrHistogram's iteration (5 ticks per half distance: ~100 points from 0 % to 100 %).
    static func distribution(_ histogram: Histogram<UInt64>) -> [PercentilePoint] {
        guard histogram.totalCount > 0 else { return [] }
        var points: [PercentilePoint] = []
        for step in histogram.percentiles(ticksPerHalfDistance: 5) {
            points.append(PercentilePoint(percentile: step.percentileLevelIteratedTo, latencyMs: Double(step.value) / 1_000))
            if points.count >= 1_000 { break }
        }
        return points
    }
}

/// One second of a run: throughput, and the proxy's CPU and memory when a pid is sampled.
struct TimelinePoint: Codable, Equatable {
    /// Seconds since the measured window started (negative during the warm-up).
    var seconds: Double
    var tps: Double
    var errors: Int
    /// Proxy CPU (user + system) over the second, in % of one core.
    var proxyCPUPercent: Double?
    /// Proxy resident set size at the end of the second, in MiB.
    var proxyRSSMiB: Double?
}

struct ProxyUsage: Codable {
    var pid: Int32
    /// CPU (user + system) used during the measured window, in seconds.
    var cpuSeconds: Double?
    var cpuMicrosecondsPerTransaction: Double?
    var rssStartKilobytes: Int?
    var rssEndKilobytes: Int?
    var rssPeakKilobytes: Int?
}

struct RunResult: Codable {
    var name: String
    /// The URL with its password hidden.
    var url: String
    var scale: Int?
    var measuredSeconds: Double
    var transactions: Int
    var tps: Double
    var errorCount: Int
    /// Failed transactions and connections by SQLSTATE (`08006`: connection failures).
    var errors: [String: Int]
    var errorSamples: [String: String]
    var latencyMs: LatencySummary
    var connectLatencyMs: LatencySummary?
    var connectionsOpened: Int?
    var connectionsPerSecond: Double?
    var bytesReceived: Int?
    var megabytesPerSecond: Double?
    var idleConnectionsHeld: Int?
    var proxy: ProxyUsage?
    /// HdrHistogram's percentile distribution of the transaction latency (the report's percentile curve).
    var latencyDistribution: [PercentilePoint] = []
    /// Once a second through the run (warm-up included, at negative seconds).
    var timeline: [TimelinePoint] = []

    init(target: Target, plan: WorkloadPlan, recorder: Recorder, measuredSeconds: Double) {
        let seconds = max(measuredSeconds, 0.001)
        name = target.name
        url = target.redactedURL
        scale = plan.kind.needsPgbenchTables ? plan.scale : nil
        self.measuredSeconds = measuredSeconds
        transactions = recorder.transactions
        tps = Double(recorder.transactions) / seconds
        errorCount = recorder.errors.values.reduce(0, +)
        errors = recorder.errors
        errorSamples = recorder.errorSamples.mapValues { target.redact($0) }
        latencyMs = LatencySummary(recorder.latency)
        latencyDistribution = PercentilePoint.distribution(recorder.latency)
        if plan.kind.churnsConnections {
            connectLatencyMs = LatencySummary(recorder.connectLatency)
            connectionsOpened = recorder.connectionsOpened
            connectionsPerSecond = Double(recorder.connectionsOpened) / seconds
        }
        if plan.kind == .large {
            bytesReceived = recorder.bytesReceived
            megabytesPerSecond = Double(recorder.bytesReceived) / 1_048_576 / seconds
        }
    }
}

struct BenchReport: Codable {
    var tool = "sluice-bench"
    var parameters: RunParameters
    var runs: [RunResult]

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }
}
