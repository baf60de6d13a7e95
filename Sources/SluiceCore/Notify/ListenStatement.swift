// ListenStatement: a simple Query made only of LISTEN / UNLISTEN statements, read as PostgreSQL's scanner would.

/// One statement of a LISTEN/UNLISTEN query, with the channel name as PostgreSQL stores it
/// (unquoted names folded to lower case, every name cut to 63 bytes).
enum ListenOp: Equatable, Sendable {
    case listen(String)
    case unlisten(String)
    /// `UNLISTEN *`.
    case unlistenAll

    /// The CommandComplete tag PostgreSQL answers the statement with.
    var tag: String {
        switch self {
        case .listen: return "LISTEN"
        case .unlisten, .unlistenAll: return "UNLISTEN"
        }
    }
}

/// A whole simple Query Sluice answers for the notification relay: its statements in order, and
/// the NOTICEs PostgreSQL would send while reading it (a name cut to 63 bytes).
struct ListenRequest: Equatable, Sendable {
    var ops: [ListenOp]
    /// Messages of NOTICE 42622 ("identifier … will be truncated to …"), in order.
    var truncationNotices: [String] = []
}

/// Reads a Query's text for the notification relay. Only a query that is nothing but `LISTEN
/// name`, `UNLISTEN name` and `UNLISTEN *` statements (separated by `;`, with whitespace and
/// `--` / `/* */` comments anywhere between words) is one; anything else — another statement,
/// a `U&"…"` name, a reserved word as an unquoted name, text that is not UTF-8 — is not, and goes
/// to the server as before.
enum ListenStatements {
    /// PostgreSQL's NAMEDATALEN - 1: longer names are cut (with a NOTICE), as PostgreSQL does.
    static let maxNameBytes = 63
    /// Queries longer than this are not looked at (a LISTEN query is short).
    static let maxQueryBytes = 65_536

    /// What the first bytes of a Query's text say.
    enum Prefix: Equatable {
        /// Not a LISTEN/UNLISTEN query: forward it.
        case no
        /// It may be one: read the whole message (`parse`).
        case maybe
        /// Too few bytes have arrived to tell.
        case needMore
    }

    /// Whether a Query whose text starts with `byte` may be a LISTEN/UNLISTEN query: L, U,
    /// whitespace or the start of a comment. The test every Query pays (inlined, a few compares);
    /// `prefix` looks further only when it says yes.
    @inline(__always)
    static func mayStart(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return lower == UInt8(ascii: "l") || lower == UInt8(ascii: "u") || isSpace(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "/")
    }

    /// The cheap test on the relay path: the first word of the text (after whitespace) is LISTEN
    /// or UNLISTEN, or the text starts with a comment. `text` is what has arrived of the Query's
    /// text; `complete`: all of it (then `.needMore` is never the answer). Most queries are
    /// decided by their first byte.
    @inline(__always)
    static func prefix(_ text: UnsafeRawBufferPointer, complete: Bool) -> Prefix {
        var i = 0
        while i < text.count && isSpace(text[i]) { i += 1 }
        guard i < text.count else { return complete ? .no : .needMore }
        let first = text[i]
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "/") { return .maybe }  // a comment, perhaps
        let word: StaticString
        switch first | 0x20 {
        case UInt8(ascii: "l"): word = "listen"
        case UInt8(ascii: "u"): word = "unlisten"
        default: return .no
        }
        let letters = word.utf8Start
        let count = word.utf8CodeUnitCount
        for k in 0..<count {
            guard i + k < text.count else { return complete ? .no : .needMore }
            if text[i + k] | 0x20 != letters[k] { return .no }
        }
        guard i + count < text.count else { return complete ? .maybe : .needMore }
        return isIdentifierByte(text[i + count]) ? .no : .maybe
    }

    /// The statements of a whole Query text (the bytes after the type and length, up to and
    /// excluding its terminating NUL), or nil when it is not a LISTEN/UNLISTEN-only query.
    static func parse(_ text: UnsafeRawBufferPointer) -> ListenRequest? {
        guard text.count <= maxQueryBytes else { return nil }
        var scanner = Scanner(text: text)
        var request = ListenRequest(ops: [])
        while true {
            guard scanner.skipSpaceAndComments() else { return nil }
            if scanner.atEnd { break }
            if scanner.take(UInt8(ascii: ";")) { continue }  // an empty statement
            guard let keyword = scanner.word() else { return nil }
            let listen: Bool
            switch keyword {
            case "listen": listen = true
            case "unlisten": listen = false
            default: return nil
            }
            guard scanner.skipSpaceAndComments() else { return nil }
            if !listen && scanner.take(UInt8(ascii: "*")) {
                request.ops.append(.unlistenAll)
            } else {
                guard let name = scanner.name(notices: &request.truncationNotices) else { return nil }
                request.ops.append(listen ? .listen(name) : .unlisten(name))
            }
            guard scanner.skipSpaceAndComments() else { return nil }
            if scanner.atEnd { break }
            guard scanner.take(UInt8(ascii: ";")) else { return nil }
        }
        return request.ops.isEmpty ? nil : request
    }

    /// `name` as a quoted identifier for the listener's own LISTEN/UNLISTEN statements.
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: bytes

    /// PostgreSQL's scanner whitespace: space, \t, \n, \r, \f, \v.
    @inline(__always) static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0d)
    }

    /// A byte that may continue an unquoted identifier: letters, digits, `_`, `$`, and any byte of a
    /// multi-byte character.
    @inline(__always) static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isIdentifierStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "$")
    }

    @inline(__always) static func isIdentifierStart(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    /// Words that cannot be an unquoted channel name (PostgreSQL's reserved and
    /// type_func_name keywords: `LISTEN select` is a syntax error there, so it goes to the server).
    static let reservedWords: Set<String> = [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast",
        "check", "collate", "column", "constraint", "create", "current_catalog", "current_date", "current_role",
        "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
        "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
        "initially", "intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp", "not",
        "null", "offset", "on", "only", "or", "order", "placing", "primary", "references", "returning", "select",
        "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "user",
        "using", "variadic", "when", "where", "window", "with",
        "authorization", "binary", "collation", "concurrently", "cross", "current_schema", "freeze", "full",
        "ilike", "inner", "is", "isnull", "join", "left", "like", "natural", "notnull", "outer", "overlaps",
        "right", "similar", "tablesample", "verbose",
    ]

    /// Cuts `bytes` to `maxNameBytes` at a character boundary (PostgreSQL's truncate_identifier).
    static func truncated(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > maxNameBytes else { return bytes }
        var end = maxNameBytes
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a UTF-8 sequence
        return Array(bytes[..<end])
    }

    /// A cursor over the query text.
    private struct Scanner {
        let text: UnsafeRawBufferPointer
        var i = 0

        var atEnd: Bool { i >= text.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard i < text.count, text[i] == byte else { return false }
            i += 1
            return true
        }

        /// Skips whitespace and comments; false on an unterminated block comment.
        mutating func skipSpaceAndComments() -> Bool {
            while i < text.count {
                let byte = text[i]
                if isSpace(byte) { i += 1; continue }
                if byte == UInt8(ascii: "-"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "-") {
                    while i < text.count && text[i] != 0x0a && text[i] != 0x0d { i += 1 }
                    continue
                }
                if byte == UInt8(ascii: "/"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "*") {
                    // Block comments nest in PostgreSQL.
                    var depth = 1
                    i += 2
                    while depth > 0 {
                        guard i < text.count else { return false }
                        if text[i] == UInt8(ascii: "/"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "*") {
                            depth += 1; i += 2
                        } else if text[i] == UInt8(ascii: "*"), i + 1 < text.count, text[i + 1] == UInt8(ascii: "/") {
                            depth -= 1; i += 2
                        } else {
                            i += 1
                        }
                    }
                    continue
                }
                return true
            }
            return true
        }

        /// The raw bytes of an unquoted identifier at the cursor, ASCII letters folded to lower case.
        private mutating func identifierBytes() -> [UInt8]? {
            guard i < text.count, isIdentifierStart(text[i]) else { return nil }
            var bytes: [UInt8] = []
            while i < text.count && isIdentifierByte(text[i]) {
                let byte = text[i]
                bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
                i += 1
            }
            return bytes
        }

        /// A keyword (an unquoted word), lower case.
        mutating func word() -> String? {
            guard let bytes = identifierBytes() else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// A channel name: a quoted identifier (`""` for a quote, never empty) or an unquoted one
        /// that is not a reserved word; cut to 63 bytes with a notice, as PostgreSQL does.
        mutating func name(notices: inout [String]) -> String? {
            var bytes: [UInt8]
            if take(UInt8(ascii: "\"")) {
                bytes = []
                while true {
                    guard i < text.count else { return nil }  // unterminated
                    let byte = text[i]
                    i += 1
                    if byte == UInt8(ascii: "\"") {
                        if i < text.count && text[i] == UInt8(ascii: "\"") { bytes.append(byte); i += 1; continue }
                        break
                    }
                    if byte == 0 { return nil }
                    bytes.append(byte)
                }
                guard !bytes.isEmpty else { return nil }  // zero-length delimited identifier: the server says so
            } else {
                // U&"…" is a Unicode-escaped identifier: left to the server.
                if i + 1 < text.count, text[i] | 0x20 == UInt8(ascii: "u"), text[i + 1] == UInt8(ascii: "&") { return nil }
                guard let word = identifierBytes() else { return nil }
                if ListenStatements.reservedWords.contains(String(decoding: word, as: UTF8.self)) { return nil }
                bytes = word
            }
            guard let full = String(validating: bytes, as: UTF8.self) else { return nil }
            let cut = truncated(bytes)
            guard cut.count < bytes.count else { return full }
            let short = String(decoding: cut, as: UTF8.self)
            notices.append("identifier \"\(full)\" will be truncated to \"\(short)\"")
            return short
        }
    }
}
