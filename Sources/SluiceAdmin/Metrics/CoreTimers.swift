// CoreTimers: the core's swift-metrics timers as lock-free histograms, written into /metrics beside the registry's.
import CoreMetrics
import Foundation
import Synchronization

/// One of the core's timers (`MetricCatalog.coreTimers`): a histogram in seconds with
/// `SluiceMetrics.durationBuckets`, recorded on the relay path several times per transaction.
///
/// swift-prometheus's histograms take a lock and bump every cumulative bucket on each record, and
/// the pools of all workers that share a label set share one histogram (and its lock); they were
/// the largest user-space item left in the relay's profile (Benchmarks/RESULTS.md, "Fourth pass").
/// Here each handler (one per pool, so one per worker) counts into its own bucket, two relaxed
/// atomic adds per record; `CoreTimerBook.emit` sums the handlers of a label set when /metrics
/// is rendered and writes the family in the text format swift-prometheus uses for the others.
final class SecondsTimer: TimerHandler, @unchecked Sendable {
    let name: String
    let labels: [(String, String)]
    /// Upper bounds of the buckets in nanoseconds (`le`), ascending; one more count for `+Inf`.
    let bounds: [Int64]
    /// Non-cumulative counts, `bounds.count + 1` of them (written by the handler's owner, read by renders).
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let sum = Atomic<UInt64>(0)

    init(name: String, labels: [(String, String)], buckets: [Duration]) {
        self.name = name
        self.labels = labels
        bounds = buckets.map { Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
        counts = .allocate(capacity: buckets.count + 1)
        for i in 0...buckets.count { (counts + i).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: bounds.count + 1)
        counts.deallocate()
    }

    func recordNanoseconds(_ duration: Int64) {
        let value = max(duration, 0)
        var bucket = 0
        while bucket < bounds.count && value > bounds[bucket] { bucket += 1 }
        counts[bucket].wrappingAdd(1, ordering: .relaxed)
        sum.wrappingAdd(UInt64(value), ordering: .relaxed)
    }

    /// Adds this handler's counts (non-cumulative) and sum in nanoseconds to `into`.
    func accumulate(into totals: inout (counts: [UInt64], sum: UInt64)) {
        for i in 0...bounds.count { totals.counts[i] &+= counts[i].load(ordering: .relaxed) }
        totals.sum &+= sum.load(ordering: .relaxed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The core timers made by one `SluiceMetricsFactory`, and their exposition.
public final class CoreTimerBook: @unchecked Sendable {
    private let lock = NSLock()
    private var timers: [ObjectIdentifier: SecondsTimer] = [:]

    public init() {}

    func add(_ timer: SecondsTimer) { lock.withLock { timers[ObjectIdentifier(timer)] = timer } }
    func remove(_ timer: SecondsTimer) { lock.withLock { timers[ObjectIdentifier(timer)] = nil } }

    /// Appends every family in the Prometheus text format: `# HELP`, `# TYPE`, then per label set
    /// the cumulative `_bucket` lines, `_sum` and `_count` (the handlers of one label set summed).
    public func emit(into text: inout String) {
        let current = lock.withLock { Array(timers.values) }
        var families: [String: [String: (bounds: [Int64], totals: (counts: [UInt64], sum: UInt64))]] = [:]
        for timer in current {
            let labels = timer.labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
            var series = families[timer.name, default: [:]][labels]
                ?? (timer.bounds, (Array(repeating: 0, count: timer.bounds.count + 1), 0))
            timer.accumulate(into: &series.totals)
            families[timer.name, default: [:]][labels] = series
        }
        for name in families.keys.sorted() {
            text += "# HELP \(name) \(MetricCatalog.coreTimers[name] ?? name)\n# TYPE \(name) histogram\n"
            for (labels, series) in families[name]!.sorted(by: { $0.key < $1.key }) {
                let prefix = labels.isEmpty ? "" : labels + ","
                var cumulative: UInt64 = 0
                for (i, bound) in series.bounds.enumerated() {
                    cumulative &+= series.totals.counts[i]
                    text += "\(name)_bucket{\(prefix)le=\"\(Double(bound) / 1e9)\"} \(cumulative)\n"
                }
                cumulative &+= series.totals.counts[series.bounds.count]
                let braces = labels.isEmpty ? "" : "{\(labels)}"
                text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(cumulative)\n"
                text += "\(name)_sum\(braces) \(Double(series.totals.sum) / 1e9)\n"
                text += "\(name)_count\(braces) \(cumulative)\n"
            }
        }
    }

    /// A label value in the text format: backslash, double quote and line feed escaped.
    static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
