// SluiceMetricsFactory: swift-metrics backend — PrometheusMetricsFactory with Sluice's buckets and timer help texts.
import CoreMetrics
import Prometheus

/// Delegates to a `PrometheusMetricsFactory` over the same registry, whose timers are histograms with
/// `SluiceMetrics.durationBuckets`. The core's known timers (`MetricCatalog.coreTimers`, with their
/// `# HELP` lines) are `SecondsTimer`s kept in `coreTimers`, outside the registry: see CoreTimers.swift.
public struct SluiceMetricsFactory: MetricsFactory {
    public let prometheus: PrometheusMetricsFactory
    public let coreTimers: CoreTimerBook

    public init(registry: PrometheusCollectorRegistry, coreTimers: CoreTimerBook) {
        self.coreTimers = coreTimers
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = SluiceMetrics.durationBuckets
        for name in MetricCatalog.coreTimers.keys { factory.durationHistogramBuckets[name] = SluiceMetrics.durationBuckets }
        factory.defaultValueHistogramBuckets = SluiceMetrics.durationBuckets.map(SecondsTimer.seconds)
        prometheus = factory
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard MetricCatalog.coreTimers[label] != nil else { return prometheus.makeTimer(label: label, dimensions: dimensions) }
        let timer = SecondsTimer(name: label, labels: dimensions,
                                 buckets: prometheus.durationHistogramBuckets[label] ?? prometheus.defaultDurationHistogramBuckets)
        coreTimers.add(timer)
        return timer
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
            coreTimers.remove(timer)
        } else {
            prometheus.destroyTimer(handler)
        }
    }
}
