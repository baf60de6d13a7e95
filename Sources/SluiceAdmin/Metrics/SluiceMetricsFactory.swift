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
        factory.defaultValueHistogramBuckets = SluiceMetrics.durationBuckets.map {
            Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
        }
        prometheus = factory
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let help = MetricCatalog.coreTimers[label] else { return prometheus.makeTimer(label: label, dimensions: dimensions) }
        let buckets = prometheus.durationHistogramBuckets[label] ?? prometheus.defaultDurationHistogramBuckets
        return prometheus.registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: label, unitName: "", helpText: help), labels: dimensions, buckets: buckets)
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
    public func destroyTimer(_ handler: any TimerHandler) { prometheus.destroyTimer(handler) }
}
