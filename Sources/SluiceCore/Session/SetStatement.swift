// SetStatement: recognises a lone `SET`/`RESET`/`RESET ALL`/`DISCARD ALL` simple query so session settings follow the client.

/// What a whole simple-query string does to session settings, when it is one of the forms Sluice tracks.
public enum SetStatement: Equatable, Sendable {
    /// `SET [SESSION] name {TO|=} …` (also `SET TIME ZONE`, `SET SCHEMA`, `SET NAMES`): replay `sql` verbatim.
    case set(name: String, sql: String)
    /// `RESET name`, or `SET name TO DEFAULT`.
    case reset(name: String)
    /// `RESET ALL`, `DISCARD ALL`.
    case resetAll

    /// Parses `query`; nil for anything else (including `SET LOCAL`, several statements, comments).
    public static func parse(_ query: String) -> SetStatement? {
        var text = Substring(query)
        text = text.drop { $0.isWhitespace }
        while text.last == ";" || text.last?.isWhitespace == true { text = text.dropLast() }
        guard !text.isEmpty, !text.contains(";"), !text.contains("--"), !text.contains("/*") else { return nil }
        var words = Scanner(text)
        guard let first = words.word()?.lowercased() else { return nil }
        switch first {
        case "set":
            guard var name = words.name() else { return nil }
            if name == "session" { guard let next = words.name() else { return nil }; name = next }
            if name == "local" { return nil }
            if name == "time" {
                guard words.word()?.lowercased() == "zone" else { return nil }
                return .set(name: "timezone", sql: String(text))
            }
            if name == "schema" { return .set(name: "search_path", sql: String(text)) }
            if name == "names" { return .set(name: "client_encoding", sql: String(text)) }
            if name == "role" || name == "session" || name == "transaction" || name == "constraints" { return nil }
            guard let separator = words.word()?.lowercased(), separator == "to" || separator == "=" else { return nil }
            if words.rest().lowercased() == "default" { return .reset(name: name) }
            return .set(name: name, sql: String(text))
        case "reset":
            guard let name = words.name() else { return nil }
            guard words.rest().isEmpty else { return nil }
            if name == "all" { return .resetAll }
            if name == "role" || name == "session" { return nil }
            return .reset(name: name)
        case "discard":
            return words.word()?.lowercased() == "all" && words.rest().isEmpty ? .resetAll : nil
        default:
            return nil
        }
    }

    /// A tiny tokenizer: words, `=`, identifiers (quoted or dotted), and the rest.
    struct Scanner {
        var text: Substring
        init(_ text: Substring) { self.text = text }

        mutating func skipSpace() { text = text.drop { $0.isWhitespace } }

        mutating func word() -> String? {
            skipSpace()
            if text.first == "=" { text = text.dropFirst(); return "=" }
            let word = text.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
            guard !word.isEmpty else { return nil }
            text = text.dropFirst(word.count)
            return String(word)
        }

        /// A configuration parameter name, lower-cased unless double-quoted.
        mutating func name() -> String? {
            skipSpace()
            if text.first == "\"" {
                let body = text.dropFirst().prefix { $0 != "\"" }
                guard text.dropFirst(body.count + 1).first == "\"" else { return nil }
                text = text.dropFirst(body.count + 2)
                return String(body)
            }
            return word()?.lowercased()
        }

        mutating func rest() -> String {
            skipSpace()
            return String(text)
        }
    }
}
