// ApplicationSeries: the per-application families of /metrics — the busiest names and `other`, monotonic across re-rankings.
import SluiceCore

/// Turns successive `ApplicationReading`s into at most `limit + 1` series per family: one per name
/// among the busiest `limit` of the book (by score), and `other` for the rest.
///
/// Each render adds to a name's series what its book entry counted since the previous render, so
/// the series only grow: a name that drops out of the busiest loses its series (its later numbers
/// go to `other`) and starts again from 0 if it comes back (a counter reset to Prometheus); an
/// entry the book gave to a new name splits at `base` (the old name's rest goes to `other`).
/// Names that had a series keep it unless another name's score is `incumbentBonus` times theirs,
/// so two names of about the same activity do not swap series at every scrape.
struct ApplicationSeries {
    static let incumbentBonus = 1.25
    private static let stride = ApplicationBook.Layout.stride

    /// Per book entry: the generation and counters last seen.
    private var seen: [Int: (generation: UInt32, counts: [UInt64])] = [:]
    private var overflowSeen = [UInt64](repeating: 0, count: stride)
    /// Accumulated counters per label value, laid out as `ApplicationBook.Layout`.
    private(set) var series: [String: [UInt64]] = [:]

    /// Adds what every entry counted since the last reading to the series of its name, or `other`.
    mutating func update(_ reading: ApplicationReading) {
        let zeros = [UInt64](repeating: 0, count: Self.stride)
        let incumbents = series
        func rank(_ entry: ApplicationReading.Entry) -> Double {
            entry.score * (incumbents[entry.name] != nil && entry.name != ApplicationName.other ? Self.incumbentBonus : 1)
        }
        let ranked = reading.entries.sorted { rank($0) != rank($1) ? rank($0) > rank($1) : $0.name < $1.name }
        var next: [String: [UInt64]] = [:]
        for entry in ranked.prefix(reading.limit) { next[entry.name] = series[entry.name] ?? zeros }
        var other = series[ApplicationName.other] ?? zeros

        for entry in reading.entries {
            let previous = seen[entry.index]
            var start = previous?.counts ?? zeros
            if previous?.generation != entry.generation, let base = entry.base {
                // The entry changed names since it was last seen: up to `base` it counted for names now gone.
                Self.add(base, minus: start, to: &other)
                start = base
            }
            if next[entry.name] != nil {
                Self.add(entry.counts, minus: start, to: &next[entry.name]!)
            } else {
                Self.add(entry.counts, minus: start, to: &other)
            }
            seen[entry.index] = (entry.generation, entry.counts)
        }
        Self.add(reading.overflow, minus: overflowSeen, to: &other)
        overflowSeen = reading.overflow
        next[ApplicationName.other] = other
        series = next
    }

    private static func add(_ counts: [UInt64], minus start: [UInt64], to total: inout [UInt64]) {
        for i in 0..<min(counts.count, start.count, total.count) where counts[i] > start[i] {
            total[i] &+= counts[i] - start[i]
        }
    }

    // MARK: exposition

    /// Appends the families in the Prometheus text format (after the others, like the core's timers).
    func emit(into text: inout String) {
        guard !series.isEmpty else { return }
        let names = series.keys.sorted()
        let bounds = ApplicationBook.boundsNanoseconds
        for (histogram, metric) in MetricCatalog.applicationHistograms {
            text += "# HELP \(metric.name) \(metric.help)\n# TYPE \(metric.name) histogram\n"
            let offset = ApplicationBook.Layout.histogram(histogram)
            for name in names {
                let counts = series[name]!
                let label = "application_name=\"\(CoreTimerBook.escaped(name))\""
                var cumulative: UInt64 = 0
                for (i, bound) in bounds.enumerated() {
                    cumulative &+= counts[offset + i]
                    text += "\(metric.name)_bucket{\(label),le=\"\(Double(bound) / 1e9)\"} \(cumulative)\n"
                }
                cumulative &+= counts[offset + bounds.count]
                text += "\(metric.name)_bucket{\(label),le=\"+Inf\"} \(cumulative)\n"
                text += "\(metric.name)_sum{\(label)} \(Double(counts[offset + bounds.count + 1]) / 1e9)\n"
                text += "\(metric.name)_count{\(label)} \(cumulative)\n"
            }
        }
        let leaks = MetricCatalog.applicationLeakSuspects
        text += "# HELP \(leaks.name) \(leaks.help)\n# TYPE \(leaks.name) counter\n"
        for name in names {
            text += "\(leaks.name){application_name=\"\(CoreTimerBook.escaped(name))\"} \(series[name]![ApplicationBook.Layout.leakSuspects])\n"
        }
        // Every reason from 0, so that the first refusal is an increase an alert can see.
        let refusals = MetricCatalog.applicationRefusals
        text += "# HELP \(refusals.name) \(refusals.help)\n# TYPE \(refusals.name) counter\n"
        for name in names {
            for refusal in ApplicationBook.Refusal.allCases {
                let count = series[name]![ApplicationBook.Layout.refusal(refusal)]
                text += "\(refusals.name){application_name=\"\(CoreTimerBook.escaped(name))\",reason=\"\(refusal.label)\"} \(count)\n"
            }
        }
    }
}
