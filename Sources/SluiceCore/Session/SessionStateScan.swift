// SessionStateScan: which statements create or clear session state that must not pass to another client (pinning).

/// Kinds of session state that outlive a transaction on the server where they were made. A
/// transaction-mode client that makes one is pinned to its server until the state is gone.
public struct SessionPins: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `CREATE TEMP|TEMPORARY TABLE|VIEW|SEQUENCE` (not `ON COMMIT DROP`), `SELECT … INTO TEMP`, `pg_temp.` objects.
    public static let tempTable = SessionPins(rawValue: 1)
    /// `pg_advisory_lock`, `pg_advisory_lock_shared`, `pg_try_advisory_lock[_shared]` (session level, not `_xact_`).
    public static let advisoryLock = SessionPins(rawValue: 2)
    /// `DECLARE … WITH HOLD`.
    public static let holdCursor = SessionPins(rawValue: 4)
    /// SQL-level `PREPARE name AS …`.
    public static let sqlPrepare = SessionPins(rawValue: 8)
    /// `SET ROLE`, `SET SESSION AUTHORIZATION`.
    public static let role = SessionPins(rawValue: 16)
    /// `set_config(name, value, false)` (or an is_local Sluice cannot read).
    public static let setConfig = SessionPins(rawValue: 32)
    /// `LISTEN` that the notification relay did not take.
    public static let listen = SessionPins(rawValue: 64)

    static let names: [(SessionPins, String)] = [
        (.tempTable, "temp_table"), (.advisoryLock, "advisory_lock"), (.holdCursor, "cursor_with_hold"),
        (.sqlPrepare, "sql_prepare"), (.role, "set_role"), (.setConfig, "set_config"), (.listen, "listen"),
    ]

    /// Every kind, in a fixed order (metric labels).
    public static let allKinds: [SessionPins] = names.map(\.0)

    /// `temp_table,advisory_lock`: the reasons as metric labels and `SHOW CLIENTS` text.
    public var label: String {
        Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// What one statement text does to session state: what it creates and what it clears.
public struct SessionStateEffect: Equatable, Sendable {
    /// State created (pinned at once, even if the statement then fails: the safe side).
    public var pins: SessionPins = []
    /// Kinds cleared entirely (`DISCARD ALL`, `pg_advisory_unlock_all()`, `RESET ROLE`, …).
    public var clears: SessionPins = []
    /// Cursors declared WITH HOLD, and cursors closed, by name (`CLOSE ALL` clears `.holdCursor`).
    public var cursorsDeclared: [String] = []
    public var cursorsClosed: [String] = []
    /// SQL prepared statements made, and deallocated, by name (`DEALLOCATE ALL` clears `.sqlPrepare`).
    public var prepared: [String] = []
    public var deallocated: [String] = []

    public init() {}
    public var isEmpty: Bool { self == SessionStateEffect() }
}

/// Reads statement text for session state. Only words are read (never executed or fully parsed):
/// forms hidden inside functions, or built with `EXECUTE format(…)`, are not seen (README).
public enum SessionStateScan {
    /// Bytes of one Query or Parse read at most.
    public static let maxBytes = 16384

    /// The effect of `text` (a Query's string, possibly several statements, or a Parse's query).
    /// A cheap byte test first: most statements name none of the trigger words and cost one pass.
    public static func scan(_ text: UnsafeRawBufferPointer) -> SessionStateEffect {
        let bytes = UnsafeRawBufferPointer(rebasing: text.prefix(maxBytes))
        guard mayMatter(bytes) else { return SessionStateEffect() }
        var effect = SessionStateEffect()
        var statement: [Token] = []
        for token in tokenize(bytes) {
            if token == .punct(UInt8(ascii: ";")) {
                classify(statement, into: &effect)
                statement.removeAll(keepingCapacity: true)
            } else {
                statement.append(token)
            }
        }
        classify(statement, into: &effect)
        return effect
    }

    public static func scan(_ text: String) -> SessionStateEffect {
        var copy = text
        return copy.withUTF8 { scan(UnsafeRawBufferPointer($0)) }
    }

    // MARK: the byte test

    /// Whether `bytes` holds (in any case) one of the words any rule needs.
    static func mayMatter(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var i = 0
        while i < count {
            switch bytes[i] | 0x20 {
            case UInt8(ascii: "t"): if has(bytes, i, "temp") { return true }
            case UInt8(ascii: "a"): if has(bytes, i, "advisory") || has(bytes, i, "authorization") { return true }
            case UInt8(ascii: "h"): if has(bytes, i, "hold") { return true }
            case UInt8(ascii: "p"): if has(bytes, i, "prepare") || has(bytes, i, "pg_temp") { return true }
            case UInt8(ascii: "r"): if has(bytes, i, "role") || has(bytes, i, "reset") { return true }
            case UInt8(ascii: "s"): if has(bytes, i, "set_config") { return true }
            case UInt8(ascii: "l"): if has(bytes, i, "listen") { return true }
            case UInt8(ascii: "d"): if has(bytes, i, "discard") || has(bytes, i, "deallocate") { return true }
            case UInt8(ascii: "c"): if has(bytes, i, "close") { return true }
            case UInt8(ascii: "u"): if has(bytes, i, "unlisten") { return true }
            default: break
            }
            i += 1
        }
        return false
    }

    @inline(__always) private static func has(_ bytes: UnsafeRawBufferPointer, _ at: Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count else { return false }
        let letters = word.utf8Start
        for k in 0..<n where bytes[at + k] | 0x20 != letters[k] | 0x20 { return false }
        return true
    }

    // MARK: tokens

    enum Token: Equatable {
        /// An unquoted word, lower-cased (letters, digits, `_`, `$`).
        case word(String)
        /// A `"quoted"` identifier, as written.
        case quoted(String)
        /// A `'string'` literal's content (in an `E''` string a backslash escapes the next character).
        case literal(String)
        /// Any other character (`(`, `,`, `.`, `;`, `*`, `=`…).
        case punct(UInt8)

        /// An identifier's name as PostgreSQL folds it.
        var name: String? {
            switch self {
            case .word(let w): return w
            case .quoted(let q): return q
            default: return nil
            }
        }
    }

    /// Splits statement text into tokens; comments are skipped. Dollar-quoted bodies are read as
    /// code (a `DO` block's `pg_advisory_lock` is then seen, and so is one in a function body).
    static func tokenize(_ bytes: UnsafeRawBufferPointer) -> [Token] {
        var tokens: [Token] = []
        let n = bytes.count
        var i = 0
        func isWordByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) || b == 0x5f || b == 0x24 || b >= 0x80
        }
        while i < n {
            let b = bytes[i]
            if b == 0 { break }
            if b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d || b == 0x0c { i += 1; continue }
            if b == UInt8(ascii: "-"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "-") {
                while i < n && bytes[i] != 0x0a { i += 1 }
                continue
            }
            if b == UInt8(ascii: "/"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "*") {
                var depth = 1
                i += 2
                while i < n && depth > 0 {
                    if bytes[i] == UInt8(ascii: "*"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "/") { depth -= 1; i += 2 }
                    else if bytes[i] == UInt8(ascii: "/"), i + 1 < n, bytes[i + 1] == UInt8(ascii: "*") { depth += 1; i += 2 }
                    else { i += 1 }
                }
                continue
            }
            if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                // E'…': a backslash escapes the next character (the escape-string prefix is checked below).
                let escapes = b == UInt8(ascii: "'") && i > 0 && (bytes[i - 1] | 0x20) == UInt8(ascii: "e")
                    && (i == 1 || !isWordByte(bytes[i - 2]))
                var content: [UInt8] = []
                i += 1
                while i < n {
                    if escapes && bytes[i] == UInt8(ascii: "\\") && i + 1 < n { content.append(bytes[i + 1]); i += 2; continue }
                    if bytes[i] == b {
                        if i + 1 < n && bytes[i + 1] == b { content.append(b); i += 2; continue }
                        i += 1
                        break
                    }
                    content.append(bytes[i])
                    i += 1
                }
                let text = String(decoding: content, as: UTF8.self)
                tokens.append(b == UInt8(ascii: "'") ? .literal(text) : .quoted(text))
                continue
            }
            if isWordByte(b) {
                let start = i
                while i < n && isWordByte(bytes[i]) { i += 1 }
                // E'…' / e'…': an escape-string literal prefix.
                if i - start == 1 && (b | 0x20) == UInt8(ascii: "e") && i < n && bytes[i] == UInt8(ascii: "'") { continue }
                tokens.append(.word(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self).lowercased()))
                continue
            }
            tokens.append(.punct(b))
            i += 1
        }
        return tokens
    }

    // MARK: rules

    /// Adds what one statement (its tokens, no `;`) does.
    static func classify(_ t: [Token], into effect: inout SessionStateEffect) {
        guard let first = t.first, case .word(let verb) = first else { return }
        func word(_ i: Int) -> String? { if i < t.count, case .word(let w) = t[i] { return w }; return nil }
        switch verb {
        case "create":
            classifyCreate(t, into: &effect)
        case "declare":
            // DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR {WITH|WITHOUT} HOLD FOR …
            if let name = t.count > 1 ? t[1].name : nil {
                var i = 2
                while i + 1 < t.count, word(i) != "for" {
                    if word(i) == "with" && word(i + 1) == "hold" { effect.pins.insert(.holdCursor); effect.cursorsDeclared.append(name); break }
                    i += 1
                }
            }
        case "close":
            if word(1) == "all" { effect.clears.insert(.holdCursor) } else if let name = t.count > 1 ? t[1].name : nil { effect.cursorsClosed.append(name) }
        case "prepare":
            // PREPARE TRANSACTION 'id' is two-phase commit, not a statement.
            if word(1) != "transaction", let name = t.count > 1 ? t[1].name : nil { effect.pins.insert(.sqlPrepare); effect.prepared.append(name) }
        case "deallocate":
            var i = 1
            if word(i) == "prepare" { i += 1 }
            if word(i) == "all" { effect.clears.insert(.sqlPrepare) } else if let name = i < t.count ? t[i].name : nil { effect.deallocated.append(name) }
        case "set":
            var i = 1
            if word(i) == "local" { return }
            if word(i) == "session" && word(i + 1) != "authorization" { i += 1 }
            if word(i) == "role" {
                let value = i + 1 < t.count ? t[i + 1] : nil
                if value == .word("none") || (value == .punct(UInt8(ascii: "=")) && word(i + 2) == "none") || (value == .word("to") && word(i + 2) == "none") {
                    effect.clears.insert(.role)
                } else {
                    effect.pins.insert(.role)
                }
            } else if word(i) == "session" && word(i + 1) == "authorization" {
                if word(i + 2) == "default" { effect.clears.insert(.role) } else { effect.pins.insert(.role) }
            }
        case "reset":
            if word(1) == "role" || (word(1) == "session" && word(2) == "authorization") { effect.clears.insert(.role) }
            if word(1) == "all" { effect.clears.insert(.setConfig) }
        case "discard":
            if word(1) == "all" { effect.clears = [.tempTable, .advisoryLock, .holdCursor, .sqlPrepare, .role, .setConfig, .listen] }
            if word(1) == "temp" || word(1) == "temporary" { effect.clears.insert(.tempTable) }
        case "listen":
            effect.pins.insert(.listen)
        case "unlisten":
            if t.count > 1, t[1] == .punct(UInt8(ascii: "*")) { effect.clears.insert(.listen) }
        default:
            break
        }
        classifyCalls(t, into: &effect)
        // SELECT … INTO TEMP[ORARY] [TABLE] name
        if verb == "select" || verb == "with" {
            var i = 1
            while i + 1 < t.count {
                if word(i) == "into", word(i + 1) == "temp" || word(i + 1) == "temporary" { effect.pins.insert(.tempTable); break }
                i += 1
            }
        }
    }

    /// `CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP|TEMPORARY [UNLOGGED] TABLE|VIEW|SEQUENCE …` unless
    /// `ON COMMIT DROP`; an object created in `pg_temp`.
    private static func classifyCreate(_ t: [Token], into effect: inout SessionStateEffect) {
        func word(_ i: Int) -> String? { if i < t.count, case .word(let w) = t[i] { return w }; return nil }
        var i = 1
        if word(i) == "or" && word(i + 1) == "replace" { i += 2 }
        if word(i) == "global" || word(i) == "local" { i += 1 }
        var temp = false
        if word(i) == "temp" || word(i) == "temporary" { temp = true; i += 1 }
        if word(i) == "unlogged" { i += 1 }
        guard let kind = word(i), ["table", "view", "sequence", "recursive", "materialized"].contains(kind) || temp else { return }
        if !temp {
            // CREATE TABLE pg_temp.name / CREATE TABLE IF NOT EXISTS pg_temp.name
            var j = i + 1
            if word(j) == "if" { j += 3 }
            guard word(j) == "pg_temp", j + 1 < t.count, t[j + 1] == .punct(UInt8(ascii: ".")) else { return }
        }
        var k = i
        while k + 2 < t.count {
            if word(k) == "on" && word(k + 1) == "commit" && word(k + 2) == "drop" { return }
            k += 1
        }
        effect.pins.insert(.tempTable)
    }

    /// Function calls anywhere in the statement: session advisory locks, their release, set_config.
    private static func classifyCalls(_ t: [Token], into effect: inout SessionStateEffect) {
        var i = 0
        while i + 1 < t.count {
            guard case .word(let name) = t[i], t[i + 1] == .punct(UInt8(ascii: "(")) else { i += 1; continue }
            switch name {
            case "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared":
                effect.pins.insert(.advisoryLock)
            case "pg_advisory_unlock_all":
                effect.clears.insert(.advisoryLock)
            case "set_config":
                if !isLocalArgumentTrue(t, openParen: i + 1) { effect.pins.insert(.setConfig) }
            default:
                break
            }
            i += 1
        }
    }

    /// Whether the third argument of the call opened at `openParen` is a literal true
    /// (`true`, `'t'`, `'on'`, …): set_config(…, true) lasts only for the transaction.
    private static func isLocalArgumentTrue(_ t: [Token], openParen: Int) -> Bool {
        var depth = 0
        var argument = 0
        var third: [Token] = []
        var i = openParen
        while i < t.count {
            let token = t[i]
            if token == .punct(UInt8(ascii: "(")) { depth += 1; if depth == 1 { i += 1; continue } }
            if token == .punct(UInt8(ascii: ")")) { depth -= 1; if depth == 0 { break } }
            if depth == 1 && token == .punct(UInt8(ascii: ",")) { argument += 1; i += 1; continue }
            if argument == 2 { third.append(token) }
            i += 1
        }
        guard third.count == 1 else { return false }
        switch third[0] {
        case .word(let w): return w == "true"
        case .literal(let l): return ["t", "true", "on", "yes", "y", "1"].contains(l.lowercased())
        default: return false
        }
    }
}
