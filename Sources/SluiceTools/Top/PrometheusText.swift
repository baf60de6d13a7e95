// PrometheusText: the samples of a Prometheus text exposition (`/metrics`) and quantiles of its histograms.

/// The samples of one `/metrics` page: `name{label="value",…} number` lines (comments skipped).
/// Lines that do not parse are skipped, so one odd series cannot hide the rest.
public struct PrometheusText: Sendable, Equatable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public private(set) var samples: [Sample] = []

    /// Parses at most `maxSamples` samples (the rest is ignored: bounded memory for a hostile page).
    public init(_ text: String, maxSamples: Int = 100_000) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if samples.count >= maxSamples { break }
            if let sample = Self.parse(Substring(line)) { samples.append(sample) }
        }
    }

    /// The sum of every sample named `name` whose labels include `matching`.
    public func total(_ name: String, matching: [String: String] = [:]) -> Double? {
        let values = samples.filter { $0.name == name && matches($0, matching) }.map(\.value)
        return values.isEmpty ? nil : values.reduce(0, +)
    }

    /// A histogram's cumulative buckets (upper bound → count, `+Inf` as infinity) for the labels `matching`,
    /// summed over any other labels; nil when the page has none.
    public func histogram(_ name: String, matching: [String: String]) -> Histogram? {
        var buckets: [Double: Double] = [:]
        for sample in samples where sample.name == name + "_bucket" && matches(sample, matching) {
            guard let bound = sample.labels["le"].flatMap(Self.number) else { continue }
            buckets[bound, default: 0] += sample.value
        }
        guard !buckets.isEmpty else { return nil }
        return Histogram(buckets: buckets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                         sum: total(name + "_sum", matching: matching) ?? 0,
                         count: total(name + "_count", matching: matching) ?? 0)
    }

    private func matches(_ sample: Sample, _ labels: [String: String]) -> Bool {
        labels.allSatisfy { sample.labels[$0.key] == $0.value }
    }

    /// Cumulative buckets of one histogram series, as Prometheus writes them.
    public struct Histogram: Sendable, Equatable {
        public var buckets: [Bucket]
        public var sum: Double
        public var count: Double

        public struct Bucket: Sendable, Equatable {
            public var upperBound: Double
            public var cumulativeCount: Double
        }

        public init(buckets: [(Double, Double)], sum: Double, count: Double) {
            self.buckets = buckets.map { Bucket(upperBound: $0.0, cumulativeCount: $0.1) }
            self.sum = sum
            self.count = count
        }

        /// What was recorded between `earlier` and this one (counters that went back — a restart — count from 0).
        public func since(_ earlier: Histogram?) -> Histogram {
            guard let earlier, earlier.count <= count else { return self }
            var before: [Double: Double] = [:]
            for bucket in earlier.buckets { before[bucket.upperBound] = bucket.cumulativeCount }
            return Histogram(buckets: buckets.map { ($0.upperBound, max(0, $0.cumulativeCount - (before[$0.upperBound] ?? 0))) },
                             sum: max(0, sum - earlier.sum), count: count - earlier.count)
        }

        public var mean: Double? { count > 0 ? sum / count : nil }

        /// Prometheus's `histogram_quantile`: the bucket holding rank `q × count`, interpolated linearly
        /// from its lower bound (0 for the first); in the `+Inf` bucket, the highest finite bound. Nil when empty.
        public func quantile(_ q: Double) -> Double? {
            guard let total = buckets.last?.cumulativeCount, total > 0 else { return nil }
            let rank = min(max(q, 0), 1) * total
            var lowerBound = 0.0, lowerCount = 0.0
            for bucket in buckets {
                if bucket.cumulativeCount >= rank {
                    if bucket.upperBound.isInfinite { return lowerBound }
                    let inBucket = bucket.cumulativeCount - lowerCount
                    guard inBucket > 0 else { return bucket.upperBound }
                    return lowerBound + (bucket.upperBound - lowerBound) * (rank - lowerCount) / inBucket
                }
                lowerBound = bucket.upperBound
                lowerCount = bucket.cumulativeCount
            }
            return lowerBound
        }
    }

    // MARK: parsing

    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    /// `name{a="x",b="y\"z"} 12.5 [timestamp]`
    static func parse(_ line: Substring) -> Sample? {
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
        let name = String(line[line.startIndex..<index])
        guard !name.isEmpty else { return nil }
        var labels: [String: String] = [:]
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                let keyStart = index
                while index < line.endIndex, line[index] != "=" { index = line.index(after: index) }
                guard index < line.endIndex else { return nil }
                let key = line[keyStart..<index].trimmingCharacters(in: [" ", ","])
                index = line.index(after: index)
                guard index < line.endIndex, line[index] == "\"" else { return nil }
                index = line.index(after: index)
                var value = ""
                while index < line.endIndex, line[index] != "\"" {
                    if line[index] == "\\" {
                        index = line.index(after: index)
                        guard index < line.endIndex else { return nil }
                        value.append(line[index] == "n" ? "\n" : line[index])
                    } else {
                        value.append(line[index])
                    }
                    index = line.index(after: index)
                }
                guard index < line.endIndex else { return nil }
                index = line.index(after: index)
                labels[key] = value
                while index < line.endIndex, line[index] == "," || line[index] == " " { index = line.index(after: index) }
            }
            guard index < line.endIndex else { return nil }
            index = line.index(after: index)
        }
        let rest = line[index...].split(separator: " ")
        guard let first = rest.first, let value = number(String(first)) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}

private extension Substring {
    func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
