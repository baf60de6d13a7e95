// TOMLWriter: an ordered TOML document (tables of keys with comments) written as text.

/// A TOML value of the kinds Sluice's config uses.
enum TOMLValue: Equatable {
    case string(String)
    case integer(Int)
    case seconds(Double)
    case boolean(Bool)
    case strings([String])

    var text: String {
        switch self {
        case .string(let s): return URLText.quoted(s)
        case .integer(let n): return String(n)
        case .seconds(let x):
            if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
            return String(x)
        case .boolean(let b): return b ? "true" : "false"
        case .strings(let items): return "[" + items.map(URLText.quoted).joined(separator: ", ") + "]"
        }
    }
}

/// One table (`[sluice]`, `[databases.app]`) with its keys in insertion order.
struct TOMLTable {
    var path: [String]
    var comments: [String] = []
    var entries: [(key: String, value: TOMLValue, comment: String?)] = []

    mutating func set(_ key: String, _ value: TOMLValue, comment: String? = nil) {
        entries.removeAll { $0.key == key }
        entries.append((key, value, comment))
    }

    func value(_ key: String) -> TOMLValue? {
        entries.first { $0.key == key }?.value
    }

    var text: String {
        var lines = comments.map { "# " + $0 }
        lines.append("[" + path.map(TOMLTable.key).joined(separator: ".") + "]")
        for entry in entries {
            if let comment = entry.comment { lines.append("# " + comment) }
            lines.append("\(TOMLTable.key(entry.key)) = \(entry.value.text)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A bare key when it can be one, else a quoted one.
    static func key(_ name: String) -> String {
        let bare = !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-")
        }
        return bare ? name : URLText.quoted(name)
    }
}
