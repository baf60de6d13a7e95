// StatementNames: a pool's shared server-side names of prepared statements, bounded.
import PostgresWire

/// One server-side name (`sluice_N`) per distinct statement text and parameter types, shared by
/// every client and server of a pool. Bounded: past `limit` distinct statements the table starts
/// afresh. That is safe because each client keeps the name and text of the statements it mapped
/// (its `StatementMapper`), and each server prepares on demand and forgets by LRU; the only
/// cost is that a statement seen again afterwards gets a new name and is prepared once more.
struct StatementNames {
    let limit: Int
    private var names: [StatementKey: String] = [:]
    private var lastNumber = 0
    /// Distinct statements named so far (what `statementsPrepared` counts).
    private(set) var named: UInt64 = 0

    init(limit: Int = 10_000) { self.limit = max(limit, 1) }

    var count: Int { names.count }

    /// The server-side name for a statement (the same for identical text and parameter types
    /// while the table holds it).
    mutating func name(for key: StatementKey) -> String {
        if let name = names[key] { return name }
        if names.count >= limit { names.removeAll(keepingCapacity: true) }
        lastNumber += 1
        let name = "sluice_\(lastNumber)"
        names[key] = name
        named += 1
        return name
    }
}
