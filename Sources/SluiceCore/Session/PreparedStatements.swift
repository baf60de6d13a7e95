// PreparedStatements: client statement names mapped to shared server-side statements (transaction mode).
import PostgresWire

/// A statement's identity on the server: its text and parameter types. Identical statements from
/// different clients share one server-side name.
public struct StatementKey: Hashable, Sendable {
    public var query: String
    public var parameterTypes: [UInt32]
}

/// A client's named statement: what it is and the server-side name it maps to.
struct ClientStatement: Equatable {
    var key: StatementKey
    var serverName: String
    /// What running it does to session state (`SessionStateScan` of its text, once at Parse); nil
    /// for most statements. A Bind of it pins again: after a pin is cleared, running the same
    /// prepared statement (Bind only, no Parse to read) must pin anew.
    var sessionEffect: SessionStateEffect? = nil
}

/// The statements prepared on one server connection, with least-recently-used eviction.
struct ServerStatements {
    private var lastUse: [String: UInt64] = [:]
    private var tick: UInt64 = 0

    var count: Int { lastUse.count }
    func contains(_ name: String) -> Bool { lastUse[name] != nil }

    mutating func touch(_ name: String) {
        tick += 1
        lastUse[name] = tick
    }

    mutating func remove(_ name: String) { lastUse[name] = nil }
    mutating func removeAll() { lastUse.removeAll() }

    /// The least recently used name, other than `keep`.
    func leastRecentlyUsed(keeping keep: String) -> String? {
        lastUse.filter { $0.key != keep }.min { $0.value < $1.value }?.key
    }
}

/// `DEALLOCATE [PREPARE] name` or `DEALLOCATE [PREPARE] ALL` as a lone simple query.
enum Deallocate: Equatable {
    case name(String)
    case all

    static func parse(_ query: String) -> Deallocate? {
        var text = Substring(query).drop { $0.isWhitespace }
        while text.last == ";" || text.last?.isWhitespace == true { text = text.dropLast() }
        guard !text.contains(";") else { return nil }
        var words = SetStatement.Scanner(text)
        guard words.word()?.lowercased() == "deallocate" else { return nil }
        guard var name = words.name() else { return nil }
        if name == "prepare" {
            guard let next = words.name() else { return nil }
            name = next
        }
        guard words.rest().isEmpty else { return nil }
        return name == "all" ? .all : .name(name)
    }
}
