// SluiceMetrics: the Prometheus registry behind /metrics — snapshot gauges and counters plus the core's timers.
import CoreMetrics
import Foundation
import Prometheus
import SluiceCore

/// Owns a `PrometheusCollectorRegistry`. `render` copies a snapshot into gauges and counters and
/// returns the text exposition; the core's swift-metrics timers land in the same registry once
/// `bootstrap()` has installed the factory. Thread-safe: renders are serialized by a lock.
public final class SluiceMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The core's timers, written after the registry's metrics (CoreTimers.swift).
    public let coreTimers = CoreTimerBook()

    /// Histogram buckets (seconds) of the core's timers: 100 µs to 60 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    private let lock = NSLock()
    private var gauges: [String: Prometheus.Gauge] = [:]
    private var counters: [String: Prometheus.Counter] = [:]
    /// Last cumulative value seen per counter source.
    private var lastSeen: [String: UInt64] = [:]
    /// The per-application families, accumulated across renders.
    private var applicationSeries = ApplicationSeries()

    /// A metrics owner with its own registry; nothing is bootstrapped (tests, or a second exporter).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// The process-wide instance: creates the registry and installs it as swift-metrics' backend
    /// (`MetricsSystem.bootstrap`). Later calls return the same instance without bootstrapping again.
    /// Call it before the runtime builds its pools: a swift-metrics `Timer` made earlier stays a no-op.
    public static func bootstrap() -> SluiceMetrics {
        BootstrapState.shared.instance {
            let metrics = SluiceMetrics()
            MetricsSystem.bootstrap(metrics.makeFactory())
            return metrics
        }
    }

    /// The swift-metrics backend over `registry` and `coreTimers`: timers become histograms with
    /// `durationBuckets`.
    public func makeFactory() -> SluiceMetricsFactory {
        SluiceMetricsFactory(registry: registry, coreTimers: coreTimers)
    }

    /// Updates every gauge and counter from `snapshot` and returns the Prometheus text exposition.
    public func render(_ snapshot: ProxySnapshot) -> String {
        lock.lock()
        defer { lock.unlock() }
        updateGauges(SnapshotGauges.samples(snapshot))
        for sample in SnapshotCounters.samples(snapshot) { advance(sample) }
        var text = registry.emitToString()
        coreTimers.emit(into: &text)
        if let applications = snapshot.applications {
            applicationSeries.update(applications)
            applicationSeries.emit(into: &text)
        }
        return text
    }

    // MARK: gauges

    private func updateGauges(_ samples: [GaugeSample]) {
        var current: [String: Prometheus.Gauge] = [:]
        for sample in samples {
            let key = Self.key(sample.metric.name, sample.labels)
            let gauge = gauges[key] ?? registry.makeGauge(descriptor: sample.metric.descriptor, labels: sample.labels)
            gauge.set(sample.value)
            current[key] = gauge
        }
        // Label sets gone from the snapshot (a removed database, an application no longer connected).
        for (key, gauge) in gauges where current[key] == nil { registry.unregisterGauge(gauge) }
        gauges = current
    }

    // MARK: counters

    /// Adds what `sample` grew by since the last render; a source that went backwards (a database
    /// removed and added again) restarts from its new value without decreasing the counter.
    private func advance(_ sample: CounterSample) {
        let counter = self.counter(sample.metric, sample.labels)
        let sourceKey = Self.key(sample.metric.name, sample.labels) + "#" + sample.source
        let previous = lastSeen[sourceKey] ?? 0
        if sample.cumulative > previous { counter.increment(by: Int64(clamping: sample.cumulative - previous)) }
        lastSeen[sourceKey] = sample.cumulative
    }

    private func counter(_ metric: MetricName, _ labels: [(String, String)]) -> Prometheus.Counter {
        let key = Self.key(metric.name, labels)
        if let counter = counters[key] { return counter }
        let counter = registry.makeCounter(descriptor: metric.descriptor, labels: labels)
        counters[key] = counter
        return counter
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "|" + $1.0 + "=" + $1.1 }
    }
}

/// The one bootstrapped `SluiceMetrics` of the process (`MetricsSystem.bootstrap` may run only once).
private final class BootstrapState: @unchecked Sendable {
    static let shared = BootstrapState()
    private let lock = NSLock()
    private var metrics: SluiceMetrics?

    func instance(_ make: () -> SluiceMetrics) -> SluiceMetrics {
        lock.lock()
        defer { lock.unlock() }
        if let metrics { return metrics }
        let made = make()
        metrics = made
        return made
    }
}
