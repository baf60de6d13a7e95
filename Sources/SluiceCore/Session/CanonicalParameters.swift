// CanonicalParameters: a pool's bounded memory of how its server spells the settings clients write (utf8 → UTF8); LoginPlan.
import SluiceConfig

/// PostgreSQL answers a setting with its own spelling of the value: `client_encoding=utf8` is
/// reported as `UTF8`, `DateStyle=iso, dmy` as `ISO, DMY`, `TimeZone=utc` as `UTC`, an
/// `application_name` longer than 63 bytes truncated. A client of Sluice must be told the same at
/// login. Sluice does not keep tables of these rules: it learns each spelling from a server that
/// ran the client's `SET` and reported the result (ParameterStatus), and remembers up to
/// `capacity` of them per pool (name and written value → the server's value; the oldest is
/// forgotten first). A value, owned by `Pool`.
struct CanonicalParameters {
    static let defaultCapacity = 256

    struct Key: Hashable {
        var name: String
        var written: String
    }

    let capacity: Int
    private var entries: [Key: String] = [:]
    /// Keys in the order they were learnt (a ring once full): the oldest is evicted first.
    private var order: [Key] = []
    private var oldest = 0

    init(capacity: Int = CanonicalParameters.defaultCapacity) {
        self.capacity = max(capacity, 1)
    }

    var count: Int { entries.count }

    /// The server's spelling of `written` for setting `name` (lower-cased), if learnt.
    func canonical(name: String, written: String) -> String? {
        entries[Key(name: name, written: written)]
    }

    /// The server's spelling of each of `wanted`'s settings that the server reports (`reported`,
    /// lower-cased names), or nil when one of them has not been learnt: the login must then take a
    /// server to find out. Settings the server does not report need no spelling.
    func canonical(of wanted: [String: String], reported: Set<String>) -> [String: String]? {
        let known = knownSpellings(of: wanted, reported: reported)
        return known.complete ? known.canonical : nil
    }

    /// What is known of `wanted`'s reported settings: their learnt spellings, and whether that is all of them.
    func knownSpellings(of wanted: [String: String], reported: Set<String>) -> (canonical: [String: String], complete: Bool) {
        var result: [String: String] = [:]
        var complete = true
        for (name, value) in wanted where reported.contains(name) {
            if let canonical = entries[Key(name: name, written: value)] { result[name] = canonical } else { complete = false }
        }
        return (result, complete)
    }

    /// A server was aligned to `wanted` and reports `serverValues` (names in `reported`): each
    /// reported setting's value is the canonical spelling of what the client wrote. Remembers
    /// them and returns them (name → canonical).
    mutating func learn(wanted: [String: String], serverValues: [String: String], reported: Set<String>) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in wanted where reported.contains(name) {
            guard let canonical = serverValues[name] else { continue }
            result[name] = canonical
            remember(Key(name: name, written: value), canonical)
        }
        return result
    }

    private mutating func remember(_ key: Key, _ canonical: String) {
        if entries[key] != nil { entries[key] = canonical; return }
        if order.count < capacity {
            order.append(key)
        } else {
            entries[order[oldest]] = nil
            order[oldest] = key
            oldest = (oldest + 1) % capacity
        }
        entries[key] = canonical
    }
}

/// How a pooled client's login finishes once it is authenticated.
enum LoginPlan: Equatable {
    /// From the pool's parameters now, telling the client these spellings of its settings.
    case answerFromPool(canonical: [String: String])
    /// Take a server first, apply the client's settings there, and tell the client what it
    /// reports: always in session mode (the client keeps that server, and its backend pid); in
    /// transaction mode when a spelling is unknown (the server only teaches it, then goes back).
    case takeServer

    /// `reportedNames`: the settings the pool's server reports (nil: the pool has not seen a server
    /// yet). `serverFreeNow`: the pool would lend a server without queueing (not paused, nobody
    /// waiting, a server idle or room to open one). A transaction-mode login is never held up
    /// behind busy or paused servers just to learn a spelling: it is then answered with the
    /// spellings known (the client's own for the others), and the pool learns the rest from the
    /// alignments of later checkouts.
    static func decide(mode: PoolMode, wanted: [String: String], reportedNames: Set<String>?,
                       known: CanonicalParameters, serverFreeNow: Bool = true) -> LoginPlan {
        guard mode == .transaction else { return .takeServer }
        guard let reportedNames else { return wanted.isEmpty ? .answerFromPool(canonical: [:]) : .takeServer }
        let spellings = known.knownSpellings(of: wanted, reported: reportedNames)
        if spellings.complete || !serverFreeNow { return .answerFromPool(canonical: spellings.canonical) }
        return .takeServer
    }
}
