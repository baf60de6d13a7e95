// Workload: the workloads and protocols sluice-bench offers, and the SQL each transaction sends.
import ArgumentParser

enum WorkloadKind: String, CaseIterable, ExpressibleByArgument, Codable {
    case select, tpcb, connect
    case idlePlusBusy = "idle-plus-busy"
    case longTransaction = "long-tx"
    case large, burst

    /// Whether the workload reads pgbench's tables (and so needs `pgbench -i` and its scale).
    var needsPgbenchTables: Bool { [.select, .tpcb, .idlePlusBusy, .burst].contains(self) }
    /// Whether connections are opened and closed during the run (reported as connections/s).
    var churnsConnections: Bool { self == .connect || self == .burst }
}

enum QueryProtocol: String, CaseIterable, ExpressibleByArgument, Codable {
    /// One Query message with literals inlined (pgbench `-M simple`).
    case simple
    /// Parse/Bind/Execute of an unnamed statement every time (pgbench `-M extended`).
    case extended
    /// Named statements prepared once per connection, then Bind/Execute (pgbench `-M prepared`).
    case prepared
}

/// One SQL text with `$n` placeholders; `name` is its prepared-statement name.
struct StatementTemplate {
    let name: String
    let sql: String
    /// `sql` cut at its placeholders, so inlining values is plain concatenation: the text before
    /// the first placeholder, then each placeholder's parameter index and the text after it.
    let head: String
    let pieces: [(parameter: Int, text: String)]

    init(name: String, sql: String) {
        self.name = name
        self.sql = sql
        let parts = sql.split(separator: "$", omittingEmptySubsequences: false)
        head = String(parts[0])
        pieces = parts.dropFirst().map { part in
            let digits = part.prefix(while: \.isNumber)
            return (Int(digits)! - 1, String(part.dropFirst(digits.count)))
        }
    }

    static let select = Self(name: "sb_select", sql: "SELECT abalance FROM pgbench_accounts WHERE aid = $1")
    static let begin = Self(name: "sb_begin", sql: "BEGIN")
    static let end = Self(name: "sb_end", sql: "END")
    static let commit = Self(name: "sb_commit", sql: "COMMIT")
    static let updateAccount = Self(name: "sb_update_account",
                                    sql: "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2")
    static let updateTeller = Self(name: "sb_update_teller",
                                   sql: "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2")
    static let updateBranch = Self(name: "sb_update_branch",
                                   sql: "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2")
    static let insertHistory = Self(name: "sb_insert_history",
                                    sql: "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                                        + "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)")
    static let selectOne = Self(name: "sb_select_one", sql: "SELECT 1")
    static let sleep = Self(name: "sb_sleep", sql: "SELECT pg_sleep($1)")
    static let large = Self(name: "sb_large", sql: "SELECT repeat('x', $1)")
    static let rollback = Self(name: "sb_rollback", sql: "ROLLBACK")
}

/// One statement of a transaction: a template and its parameter values as text.
struct Step {
    let template: StatementTemplate
    let parameters: [String]

    /// The SQL with the parameters written in as literals, for the simple protocol.
    var inlinedSQL: String {
        var sql = template.head
        sql.reserveCapacity(template.sql.utf8.count + 16 * parameters.count)
        for piece in template.pieces {
            sql += parameters[piece.parameter]
            sql += piece.text
        }
        return sql
    }
}

/// Everything a client needs to build its transactions; the same for every client of a run.
struct WorkloadPlan {
    let kind: WorkloadKind
    let queryProtocol: QueryProtocol
    /// pgbench scale (rows in `pgbench_branches`); 1 when the workload doesn't use the tables.
    let scale: Int
    let sleepSeconds: Double
    let rowBytes: Int
    let transactionsPerConnection: Int

    /// Statements prepared on every new connection when the protocol is `prepared`.
    var templates: [StatementTemplate] {
        switch kind {
        case .select, .idlePlusBusy, .burst: return [.select]
        case .tpcb: return [.begin, .updateAccount, .select, .updateTeller, .updateBranch, .insertHistory, .end]
        case .connect: return []
        case .longTransaction: return [.begin, .sleep, .commit]
        case .large: return [.large]
        }
    }

    /// The protocol used for `template`: `connect`'s `SELECT 1` always goes as a simple query.
    var effectiveProtocol: QueryProtocol { kind == .connect ? .simple : queryProtocol }

    /// Transactions a connection runs before it is closed (nil: kept for the whole run).
    var connectionLifetime: Int? {
        switch kind {
        case .connect: return 1
        case .burst: return transactionsPerConnection
        default: return nil
        }
    }

    /// The statements of one transaction, with fresh random values.
    func transaction(random: inout SplitMix64) -> [Step] {
        switch kind {
        case .select, .idlePlusBusy, .burst:
            return [Step(template: .select, parameters: [String(randomAccount(&random))])]
        case .tpcb:
            let aid = String(randomAccount(&random))
            let bid = String(Int.random(in: 1...scale, using: &random))
            let tid = String(Int.random(in: 1...(10 * scale), using: &random))
            let delta = String(Int.random(in: -5000...5000, using: &random))
            return [Step(template: .begin, parameters: []),
                    Step(template: .updateAccount, parameters: [delta, aid]),
                    Step(template: .select, parameters: [aid]),
                    Step(template: .updateTeller, parameters: [delta, tid]),
                    Step(template: .updateBranch, parameters: [delta, bid]),
                    Step(template: .insertHistory, parameters: [tid, bid, aid, delta]),
                    Step(template: .end, parameters: [])]
        case .connect:
            return [Step(template: .selectOne, parameters: [])]
        case .longTransaction:
            return [Step(template: .begin, parameters: []),
                    Step(template: .sleep, parameters: [String(sleepSeconds)]),
                    Step(template: .commit, parameters: [])]
        case .large:
            return [Step(template: .large, parameters: [String(rowBytes)])]
        }
    }

    private func randomAccount(_ random: inout SplitMix64) -> Int {
        Int.random(in: 1...(100_000 * scale), using: &random)
    }
}
