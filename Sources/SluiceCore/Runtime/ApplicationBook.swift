// ApplicationBook: per-application_name statistics over a bounded table of names, shared by all workers.
import Foundation
import Synchronization

/// Pool wait, transaction time, server hold time, leak suspects and refusals by `application_name`,
/// with memory and label values bounded whatever names clients send.
///
/// - **Names** are sanitized (`ApplicationName.label`) and tracked in a table of `capacity` entries
///   (4 × `limit`, `metrics_application_limit`). A client is given its entry once, when it logs in
///   or its `application_name` changes (`resolve`), as an `ApplicationSlot`: an index and the
///   entry's generation. The relay records with that index: no hashing, no allocation, one
///   relaxed atomic load and store per number, into a block of counters of its own worker (the
///   only writer of that block).
/// - **Which names are tracked** is a least-frequently-used table with decay: each entry has a
///   score, its activity (logins, transactions, refusals) decayed with a half-life of
///   `halfLifeMilliseconds`. A new name takes a free entry, or the entry with the lowest score,
///   starting from 0. So a flood of one-off names replaces one-off names, never a name with steady
///   activity (space-saving's rule of inheriting the replaced score, Metwally et al. 2005, would let
///   10,000 one-off names outweigh one busy application). The replaced entry's generation changes:
///   clients still holding the old slot record into `other` from then on, and the janitor gives
///   active ones a new slot (`isCurrent`).
/// - **Which names get a series** (the busiest `limit` of the table; the rest, and names that have
///   no entry, are `other`) is decided when /metrics is rendered, from `read`.
///
/// Thread-safe: the table is behind a lock taken at login, at an `application_name` change, at a
/// refusal and when read; the counters are atomics.
public final class ApplicationBook: @unchecked Sendable {
    /// The three histograms kept per application.
    public enum Histogram: Int, CaseIterable, Sendable {
        case poolWait, transaction, serverHold
    }

    /// Refusals counted per application.
    public enum Refusal: Int, CaseIterable, Sendable {
        case maxDBClientConnections, maxUserClientConnections, maxQueueLength, queryWaitTimeout

        /// The `reason` label: the limit's key, or `query_wait_timeout`.
        public var label: String {
            switch self {
            case .maxDBClientConnections: return "max_db_client_connections"
            case .maxUserClientConnections: return "max_user_client_connections"
            case .maxQueueLength: return "max_queue_length"
            case .queryWaitTimeout: return "query_wait_timeout"
            }
        }

        /// The refusal a limit's name or a close reason stands for, if it is one of these.
        public init?(reason: String) {
            guard let match = Self.allCases.first(where: { $0.label == reason }) else { return nil }
            self = match
        }
    }

    /// Upper bounds (nanoseconds) of the histogram buckets; one more count for `+Inf`. The same as
    /// the pool-wide histograms' (`SluiceMetrics.durationBuckets`).
    public static let boundsNanoseconds: [Int64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
        30_000_000_000, 60_000_000_000,
    ]
    /// Half-life of an entry's score: a name idle for this long counts half as much.
    public static let halfLifeMilliseconds: Double = 300_000

    /// Layout of one entry's counters: per histogram `buckets + 1` counts then the sum (ns); then
    /// leak suspects, refusals, activity.
    public enum Layout {
        public static let histogramStride = ApplicationBook.boundsNanoseconds.count + 2
        public static func histogram(_ histogram: Histogram) -> Int { histogram.rawValue * histogramStride }
        public static let leakSuspects = Histogram.allCases.count * histogramStride
        public static func refusal(_ refusal: Refusal) -> Int { leakSuspects + 1 + refusal.rawValue }
        public static let activity = leakSuspects + 1 + Refusal.allCases.count
        public static let stride = activity + 1
    }

    /// Names with their own series (`metrics_application_limit`).
    public let limit: Int
    /// Entries of the table (names tracked); `overflow` is the entry after them (`other`).
    public let capacity: Int
    public var overflow: Int { capacity }
    let workers: Int
    /// `workers × (capacity + 1) × Layout.stride` counters: one block per worker.
    private let counters: UnsafeMutablePointer<Atomic<UInt64>>
    /// Each entry's generation (`capacity + 1`; the overflow's stays 0).
    private let generations: UnsafeMutablePointer<Atomic<UInt32>>

    private let lock = NSLock()
    private var names: [String?]
    private var index: [String: Int] = [:]
    private var scores: [Double]
    private var lastActivity: [UInt64]
    private var lastDecayAt: UInt64?
    /// Each entry's counters when its current generation began (summed over workers).
    private var bases: [[UInt64]]

    public init(limit: Int, workers: Int) {
        self.limit = max(limit, 0)
        self.capacity = 4 * self.limit
        self.workers = max(workers, 1)
        let total = self.workers * (capacity + 1) * Layout.stride
        counters = .allocate(capacity: total)
        for i in 0..<total { (counters + i).initialize(to: Atomic(0)) }
        generations = .allocate(capacity: capacity + 1)
        for i in 0...capacity { (generations + i).initialize(to: Atomic(0)) }
        names = Array(repeating: nil, count: capacity)
        scores = Array(repeating: 0, count: capacity)
        lastActivity = Array(repeating: 0, count: capacity)
        bases = Array(repeating: [], count: capacity)
    }

    deinit {
        counters.deinitialize(count: workers * (capacity + 1) * Layout.stride)
        counters.deallocate()
        generations.deinitialize(count: capacity + 1)
        generations.deallocate()
    }

    // MARK: the relay's side (no lock, no allocation)

    /// The slot of clients whose name has no entry.
    public var overflowSlot: ApplicationSlot { ApplicationSlot(entry: Int32(capacity), generation: 0) }

    /// Whether `slot` still names its entry's current name.
    @inline(__always) public func isCurrent(_ slot: ApplicationSlot) -> Bool {
        Int(slot.entry) == capacity || generations[Int(slot.entry)].load(ordering: .relaxed) == slot.generation
    }

    /// The entry a slot records into: its own, or `other` once the entry went to another name.
    @inline(__always) private func entry(_ slot: ApplicationSlot) -> Int {
        isCurrent(slot) ? Int(slot.entry) : capacity
    }

    @inline(__always) private func counter(worker: Int, entry: Int, _ offset: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        counters + ((worker * (capacity + 1) + entry) * Layout.stride + offset)
    }

    /// Records one duration (nanoseconds) in a histogram of the slot's application.
    @inline(__always) public func record(_ histogram: Histogram, nanoseconds: Int64, slot: ApplicationSlot, worker: Int) {
        let value = max(nanoseconds, 0)
        let bounds = Self.boundsNanoseconds
        var bucket = 0
        while bucket < bounds.count && value > bounds[bucket] { bucket += 1 }
        let base = counter(worker: worker, entry: entry(slot), Layout.histogram(histogram))
        Self.add(1, to: base + bucket)
        Self.add(UInt64(value), to: base + bounds.count + 1)
        if histogram == .transaction { countActivity(slot: slot, worker: worker) }
    }

    /// A client of the slot's application became a leak suspect.
    public func countLeakSuspect(slot: ApplicationSlot, worker: Int) {
        Self.add(1, to: counter(worker: worker, entry: entry(slot), Layout.leakSuspects))
    }

    /// A logged-in client of the slot's application was refused (`max_queue_length`, `query_wait_timeout`).
    public func countRefusal(_ refusal: Refusal, slot: ApplicationSlot, worker: Int) {
        Self.add(1, to: counter(worker: worker, entry: entry(slot), Layout.refusal(refusal)))
        countActivity(slot: slot, worker: worker)
    }

    @inline(__always) private func countActivity(slot: ApplicationSlot, worker: Int) {
        Self.add(1, to: counter(worker: worker, entry: entry(slot), Layout.activity))
    }

    /// Adds to a counter of the caller's worker. Each worker writes only its own block (one
    /// writer per counter, on its own loop), so a relaxed load and store will do: no locked
    /// read-modify-write on the relay path. Readers (`read`, under the lock) see whole values.
    @inline(__always) private static func add(_ amount: UInt64, to counter: UnsafeMutablePointer<Atomic<UInt64>>) {
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    // MARK: names (locked; at login, at a change of application_name, at a refusal)

    /// The slot of a client that logged in (or changed its `application_name`) with `rawName`:
    /// the name's entry, a new one (replacing the least busy entry when the table is full), or
    /// `other` when there is no table (`limit` 0) or the name is `other` itself.
    public func resolve(_ rawName: String, now: UInt64, worker: Int) -> ApplicationSlot {
        let name = ApplicationName.label(rawName)
        let slot: ApplicationSlot = lock.withLock {
            if let entry = index[name] { return currentSlot(entry) }
            guard capacity > 0, name != ApplicationName.other else { return overflowSlot }
            let entry = names.firstIndex(where: { $0 == nil }) ?? replaceLeastBusy(now: now)
            names[entry] = name
            index[name] = entry
            return currentSlot(entry)
        }
        countActivity(slot: slot, worker: worker)
        return slot
    }

    /// A client refused before it had a slot (a per-database or per-user limit, checked before
    /// authentication): counted under its name's entry if the name has one, else `other`. An
    /// unauthenticated client never adds a name to the table.
    public func countRefusal(_ refusal: Refusal, rawName: String, worker: Int) {
        let name = ApplicationName.label(rawName)
        lock.withLock {
            let slot = index[name].map(currentSlot) ?? overflowSlot
            countRefusal(refusal, slot: slot, worker: worker)
        }
    }

    private func currentSlot(_ entry: Int) -> ApplicationSlot {
        ApplicationSlot(entry: Int32(entry), generation: generations[entry].load(ordering: .relaxed))
    }

    /// Frees the entry with the lowest score for a new name, which starts from 0. Called with the
    /// lock held and the table full.
    private func replaceLeastBusy(now: UInt64) -> Int {
        refreshScores(now: now)
        var victim = 0
        for entry in 1..<capacity where scores[entry] < scores[victim] { victim = entry }
        if let old = names[victim] { index[old] = nil }
        bases[victim] = sum(entry: victim)
        scores[victim] = 0
        generations[victim].wrappingAdd(1, ordering: .relaxed)
        return victim
    }

    /// Decays every score to `now` and adds the activity counted since the last refresh. Each
    /// worker's loop has its own `now`, a little behind or ahead of another's: time never goes back here.
    private func refreshScores(now: UInt64) {
        let last = lastDecayAt ?? now
        let factor = now > last ? pow(0.5, Double(now - last) / Self.halfLifeMilliseconds) : 1
        lastDecayAt = max(last, now)
        for entry in 0..<capacity {
            var activity: UInt64 = 0
            for worker in 0..<workers { activity &+= counter(worker: worker, entry: entry, Layout.activity).pointee.load(ordering: .relaxed) }
            scores[entry] = scores[entry] * factor + Double(activity &- lastActivity[entry])
            lastActivity[entry] = activity
        }
    }

    /// An entry's counters summed over the workers.
    private func sum(entry: Int) -> [UInt64] {
        var total = [UInt64](repeating: 0, count: Layout.stride)
        for worker in 0..<workers {
            let base = counter(worker: worker, entry: entry, 0)
            for i in 0..<Layout.stride { total[i] &+= base[i].load(ordering: .relaxed) }
        }
        return total
    }

    // MARK: reading

    /// Every entry's name, score and counters now (scores refreshed to `now`).
    public func read(now: UInt64) -> ApplicationReading {
        lock.withLock {
            refreshScores(now: now)
            var entries: [ApplicationReading.Entry] = []
            for entry in 0..<capacity {
                guard names[entry] != nil else { continue }
                let counts = sum(entry: entry)
                entries.append(ApplicationReading.Entry(
                    index: entry, generation: generations[entry].load(ordering: .relaxed), name: names[entry]!,
                    score: scores[entry], base: bases[entry].isEmpty ? nil : bases[entry], counts: counts))
            }
            return ApplicationReading(limit: limit, entries: entries, overflow: sum(entry: capacity))
        }
    }
}

/// A client's entry in the `ApplicationBook`: where the relay records its numbers.
public struct ApplicationSlot: Equatable, Sendable {
    public var entry: Int32
    public var generation: UInt32
    public init(entry: Int32, generation: UInt32) {
        self.entry = entry
        self.generation = generation
    }
}

/// What `ApplicationBook.read` saw: the table's entries and the `other` entry's counters, each
/// laid out as `ApplicationBook.Layout` says and summed over the workers. Counters only grow,
/// except that an entry given to a new name keeps counting from where the old one stopped
/// (`base` is where the current name began).
public struct ApplicationReading: Sendable {
    public struct Entry: Sendable {
        public var index: Int
        public var generation: UInt32
        public var name: String
        public var score: Double
        /// The counters when the current generation began (nil: generation 0, began at 0).
        public var base: [UInt64]?
        public var counts: [UInt64]
        public init(index: Int, generation: UInt32, name: String, score: Double, base: [UInt64]?, counts: [UInt64]) {
            self.index = index
            self.generation = generation
            self.name = name
            self.score = score
            self.base = base
            self.counts = counts
        }
    }

    public var limit: Int
    public var entries: [Entry]
    public var overflow: [UInt64]
    public init(limit: Int, entries: [Entry], overflow: [UInt64]) {
        self.limit = limit
        self.entries = entries
        self.overflow = overflow
    }
}

/// How an `application_name` becomes a label value.
public enum ApplicationName {
    /// Longest label (PostgreSQL keeps 63 bytes of an application_name).
    public static let maxLength = 63
    /// The label of clients that sent no application_name.
    public static let unnamed = "none"
    /// The label of every name without a series of its own.
    public static let other = "other"

    /// ASCII letters, digits and `_ - . : / @` are kept, anything else becomes `_`; at most
    /// `maxLength` characters; an empty name is `none`.
    public static func label(_ raw: String) -> String {
        guard !raw.isEmpty else { return unnamed }
        var label = ""
        label.reserveCapacity(min(raw.utf8.count, maxLength))
        for scalar in raw.unicodeScalars.prefix(maxLength) {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-", ".", ":", "/", "@": label.unicodeScalars.append(scalar)
            default: label.unicodeScalars.append("_")
            }
        }
        return label
    }
}
