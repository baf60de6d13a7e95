// SluiceMetricsFactory: swift-metrics backend — PrometheusMetricsFactory with Sluice's buckets and timer help texts.
import CoreMetrics
import Prometheus

/// Delegates to a `PrometheusMetricsFactory` over the same registry, whose timers are histograms with
/// `SluiceMetrics.durationBuckets`. The core's known timers get a `# HELP` line (the plain factory
/// registers every metric without one).
public struct SluiceMetricsFactory: MetricsFactory {
    public let prometheus: PrometheusMetricsFactory

    public init(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = SluiceMetrics.durationBuckets
        for name in MetricCatalog.coreTimers.keys { factory.durationHistogramBuckets[name] = SluiceMetrics.durationBuckets }
        factory.defaultValueHistogramBuckets = SluiceMetrics.durationBuckets.map(SecondsTimer.seconds)
        prometheus = factory
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let help = MetricCatalog.coreTimers[label] else { return prometheus.makeTimer(label: label, dimensions: dimensions) }
        let buckets = prometheus.durationHistogramBuckets[label] ?? prometheus.defaultDurationHistogramBuckets
        return SecondsTimer(histogram: prometheus.registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(metricName: label, unitName: "", helpText: help), labels: dimensions,
            buckets: buckets.map(SecondsTimer.seconds)))
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        prometheus.makeCounter(label: label, dimensions: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        prometheus.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        prometheus.makeMeter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    public func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        prometheus.destroyFloatingPointCounter(handler)
    }
    public func destroyMeter(_ handler: any MeterHandler) { prometheus.destroyMeter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { prometheus.destroyRecorder(handler) }
    public func destroyTimer(_ handler: any TimerHandler) {
        if let timer = handler as? SecondsTimer {
            prometheus.registry.unregisterValueHistogram(timer.histogram)
        } else {
            prometheus.destroyTimer(handler)
        }
    }
}

/// The core's timers (recorded on the relay path, several times per transaction) as histograms of
/// seconds in `Double`: swift-prometheus's `Duration` histogram compares the value with every
/// bucket through out-of-line `Duration` comparisons, ~1 % of the proxy's CPU at 20,000
/// transactions/s (Benchmarks/RESULTS.md, "Third pass"). The exposition is the same histogram.
final class SecondsTimer: TimerHandler, Sendable {
    let histogram: ValueHistogram
    init(histogram: ValueHistogram) { self.histogram = histogram }

    func recordNanoseconds(_ duration: Int64) { histogram.record(Double(duration) / 1e9) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
