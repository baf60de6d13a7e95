// SessionParameters: a client's wanted settings vs. a server's current ones, and the SQL that aligns them.
import Synchronization

/// Settings a client asked for (startup parameters, `options -c`, later reported `SET`s).
/// Keys are lower-cased GUC names.
public struct SessionParameters: Equatable, Sendable {
    public private(set) var values: [String: String] = [:] { didSet { revision = Self.nextRevision() } }
    /// Settings the client changed with a lone `SET` statement, replayed verbatim by name.
    public private(set) var statements: [String: String] = [:] { didSet { revision = Self.nextRevision() } }
    /// The startup values, which `RESET` returns to.
    public private(set) var startup: [String: String] = [:] { didSet { revision = Self.nextRevision() } }
    /// Process-wide unique stamp of this content: changes with every mutation, kept by copies. Two
    /// values with the same revision are equal, which lets a server skip comparing dictionaries
    /// on every checkout (`ServerParameterState.alignmentIfNeeded`).
    public private(set) var revision: UInt64 = SessionParameters.nextRevision()
    public init() {}

    private static let revisions = Atomic<UInt64>(0)
    private static func nextRevision() -> UInt64 { revisions.wrappingAdd(1, ordering: .relaxed).newValue }

    public static func == (a: SessionParameters, b: SessionParameters) -> Bool {
        a.revision == b.revision || (a.values == b.values && a.statements == b.statements && a.startup == b.startup)
    }

    /// Applies a `SET`/`RESET`/`RESET ALL` the client ran successfully outside a transaction.
    public mutating func apply(_ statement: SetStatement) {
        switch statement {
        case .set(let name, let sql):
            values[name] = nil
            statements[name] = sql
        case .reset(let name):
            statements[name] = nil
            values[name] = startup[name]
        case .resetAll:
            statements = [:]
            values = startup
        }
    }

    /// Takes the server's spelling of the client's settings (`canonical`, by lower-cased name; see
    /// `CanonicalParameters`), for what the client is told and what servers are compared with.
    public mutating func adoptCanonical(_ canonical: [String: String]) {
        for (name, value) in canonical {
            if values[name] != nil && values[name] != value { values[name] = value }
            if startup[name] != nil && startup[name] != value { startup[name] = value }
        }
    }

    public subscript(name: String) -> String? {
        get { values[name.lowercased()] }
        set { values[name.lowercased()] = newValue }
    }

    /// Startup parameters that are not settings.
    static let notSettings: Set<String> = ["user", "database", "replication", "options", "_pq_.command_line"]

    /// Builds the wanted settings from a StartupMessage's parameters; `options` is parsed
    /// for `-c name=value` and `--name=value` the way PostgreSQL's backend does.
    public static func fromStartup(_ pairs: [(name: String, value: String)]) throws -> SessionParameters {
        var result = SessionParameters()
        for (name, value) in pairs where !notSettings.contains(name.lowercased()) {
            guard Self.isValidName(name) else { throw SessionParameterError.invalidName(name) }
            result[name] = value
        }
        if let options = pairs.first(where: { $0.name == "options" })?.value {
            for (name, value) in try parseOptions(options) { result[name] = value }
        }
        result.startup = result.values
        return result
    }

    /// Parses libpq `options`: whitespace-separated, backslash escapes a character.
    public static func parseOptions(_ options: String) throws -> [(String, String)] {
        var words: [String] = []
        var current = ""
        var escaped = false
        var inWord = false
        for ch in options {
            if escaped { current.append(ch); escaped = false; inWord = true; continue }
            if ch == "\\" { escaped = true; inWord = true; continue }
            if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(ch); inWord = true
        }
        if inWord { words.append(current) }
        var result: [(String, String)] = []
        var index = 0
        while index < words.count {
            var word = words[index]
            if word == "-c" {
                index += 1
                guard index < words.count else { throw SessionParameterError.badOptions(options) }
                word = words[index]
            } else if word.hasPrefix("--") {
                word = String(word.dropFirst(2))
            } else if word.hasPrefix("-c") {
                word = String(word.dropFirst(2))
            } else {
                throw SessionParameterError.badOptions(options)
            }
            guard let eq = word.firstIndex(of: "=") else { throw SessionParameterError.badOptions(options) }
            let name = String(word[..<eq]).replacingOccurrences(of: "-", with: "_")
            guard isValidName(name) else { throw SessionParameterError.invalidName(name) }
            result.append((name, String(word[word.index(after: eq)...])))
            index += 1
        }
        return result
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63 && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
    }
}

public enum SessionParameterError: Error, CustomStringConvertible {
    case invalidName(String)
    case badOptions(String)
    public var description: String {
        switch self {
        case .invalidName(let n): return "invalid configuration parameter name \"\(n)\""
        case .badOptions(let o): return "invalid command-line argument in options: \"\(o)\""
        }
    }
}

/// What one server session has: reported values plus the names Sluice itself set.
public struct ServerParameterState: Equatable, Sendable {
    /// Current values as reported by ParameterStatus or set by Sluice (lower-cased names).
    public var current: [String: String] = [:] { didSet { revision &+= 1 } }
    /// Names this server reports with ParameterStatus (GUC_REPORT), learnt at login.
    public var reportedNames: Set<String> = [] { didSet { revision &+= 1 } }
    /// Names Sluice changed from the server's default on this connection.
    public var setBySluice: Set<String> = [] { didSet { revision &+= 1 } }
    /// `SET` statements run on this connection, by setting name.
    public var statements: [String: String] = [:] { didSet { revision &+= 1 } }
    /// Reported settings that Sluice set with another spelling than the server reports (`utf8`
    /// for `UTF8`): that spelling is known to give the current value, so a client writing it
    /// needs no `SET` here. Dropped when the server reports a new value.
    public var spelled: [String: String] = [:] { didSet { revision &+= 1 } }
    /// Bumped by every change above.
    private var revision: UInt64 = 0
    /// Client revisions found already aligned with this server at its revision `alignedOwn`: in
    /// transaction mode a server meets many clients with the same settings but each with its own
    /// revision, so one remembered pair would miss on almost every checkout.
    private var alignedWanted: [UInt64] = []
    private var alignedOwn: UInt64 = .max
    private var alignedNext = 0
    /// How many client revisions one server remembers (a ring: the oldest is forgotten first).
    static let alignedMemory = 64
    /// Full comparisons made by `alignmentIfNeeded` (tests watch the cache with it).
    private(set) var alignmentsComputed = 0
    public init() {}

    public static func == (a: ServerParameterState, b: ServerParameterState) -> Bool {
        a.current == b.current && a.reportedNames == b.reportedNames && a.setBySluice == b.setBySluice
            && a.statements == b.statements
    }

    /// `alignment(to:)`, remembering each "nothing to do" answer until either side changes: the
    /// common checkout (a client this server already matched) scans a few integers.
    public mutating func alignmentIfNeeded(to wanted: SessionParameters)
        -> (sql: String, set: [String: String], reset: [String], replay: [String: String])? {
        if alignedOwn == revision && alignedWanted.contains(wanted.revision) { return nil }
        alignmentsComputed &+= 1
        guard let alignment = alignment(to: wanted) else {
            rememberAligned(wanted.revision)
            return nil
        }
        return alignment
    }

    private mutating func rememberAligned(_ wanted: UInt64) {
        if alignedOwn != revision {
            alignedOwn = revision
            alignedWanted.removeAll(keepingCapacity: true)
            alignedNext = 0
        }
        if alignedWanted.count < Self.alignedMemory {
            if alignedWanted.capacity == 0 { alignedWanted.reserveCapacity(Self.alignedMemory) }
            alignedWanted.append(wanted)
        } else {
            alignedWanted[alignedNext] = wanted
            alignedNext = (alignedNext + 1) % Self.alignedMemory
        }
    }

    /// A client ran this statement on the server successfully.
    public mutating func clientRan(_ statement: SetStatement) {
        switch statement {
        case .set(let name, let sql):
            statements[name] = sql
            if !reportedNames.contains(name) { current[name] = nil }
            setBySluice.remove(name)
        case .reset(let name):
            statements[name] = nil
            if !reportedNames.contains(name) { current[name] = nil }
            setBySluice.remove(name)
        case .resetAll:
            discarded()
        }
    }

    /// Records a ParameterStatus from the server.
    public mutating func reported(name: String, value: String) {
        let key = name.lowercased()
        if current[key] != value && spelled[key] != nil { spelled[key] = nil }
        current[key] = value
        reportedNames.insert(key)
    }

    /// The statement that makes this server's session match `wanted`, or nil if it already does.
    public func alignment(to wanted: SessionParameters)
        -> (sql: String, set: [String: String], reset: [String], replay: [String: String])? {
        var set: [String: String] = [:]
        var reset: [String] = []
        for (name, value) in wanted.values where (current[name] != value && spelled[name] != value) || statements[name] != nil {
            set[name] = value
        }
        for name in setBySluice where wanted.values[name] == nil && wanted.statements[name] == nil { reset.append(name) }
        for name in statements.keys where wanted.values[name] == nil && wanted.statements[name] == nil && !reset.contains(name) {
            reset.append(name)
        }
        let replay = wanted.statements.filter { statements[$0.key] != $0.value }
        if set.isEmpty && reset.isEmpty && replay.isEmpty { return nil }
        var sql = ""
        for name in reset.sorted() { sql += "RESET \(quoteIdentifier(name));" }
        for name in set.keys.sorted() {
            sql += "SET \(quoteIdentifier(name)) TO \(quoteLiteral(set[name]!));"
        }
        for name in replay.keys.sorted() { sql += replay[name]! + ";" }
        return (sql, set, reset, replay)
    }

    /// Applies a successful alignment (called after its ReadyForQuery, so reported names
    /// already carry the server's own spelling, which stays in `current`: the client's spelling,
    /// when it differs, goes to `spelled` for comparison).
    public mutating func aligned(set: [String: String], reset: [String], replay: [String: String] = [:]) {
        for name in reset {
            setBySluice.remove(name)
            statements[name] = nil
            if !reportedNames.contains(name) { current[name] = nil }
        }
        for (name, value) in set {
            if !reportedNames.contains(name) {
                current[name] = value
            } else if current[name] != value {
                spelled[name] = value
            } else if spelled[name] != nil {
                spelled[name] = nil
            }
            statements[name] = nil
            setBySluice.insert(name)
        }
        for (name, sql) in replay {
            statements[name] = sql
            setBySluice.remove(name)
            if !reportedNames.contains(name) { current[name] = nil }
        }
    }

    /// After `DISCARD ALL` / `RESET ALL` nothing Sluice set remains (reported ones were re-reported).
    public mutating func discarded() {
        for name in setBySluice where !reportedNames.contains(name) { current[name] = nil }
        for name in statements.keys where !reportedNames.contains(name) { current[name] = nil }
        setBySluice.removeAll()
        statements.removeAll()
        if !spelled.isEmpty { spelled.removeAll() }
    }
}

/// `"name"` with embedded quotes doubled.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `'value'` with embedded quotes doubled (standard_conforming_strings on; backslashes via E'' when present).
public func quoteLiteral(_ value: String) -> String {
    let quoted = value.replacingOccurrences(of: "'", with: "''")
    if value.contains("\\") { return "E'" + quoted.replacingOccurrences(of: "\\", with: "\\\\") + "'" }
    return "'" + quoted + "'"
}
