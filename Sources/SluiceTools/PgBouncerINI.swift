// PgBouncerINI: reads pgbouncer.ini (sections, `key = value`, `%include`) and its userlist.txt.
import Foundation

/// A pgbouncer.ini as a flat list of settings in file order, with `%include`d files spliced in.
public struct PgBouncerINI: Sendable {
    /// One `key = value` line.
    public struct Setting: Sendable, Equatable {
        /// Lowercased section name (`databases`, `pgbouncer`, `users`, `peers`).
        public var section: String
        /// The key as written (database names keep their case); `[pgbouncer]` keys are lowercased.
        public var key: String
        public var value: String
        /// `file:line`, for messages.
        public var location: String
    }

    public var settings: [Setting]
    /// Lines that were neither a section, a setting, a comment nor `%include` (`key` holds the line; reported, not fatal).
    public var unreadable: [Setting]

    public init(settings: [Setting] = [], unreadable: [Setting] = []) {
        self.settings = settings
        self.unreadable = unreadable
    }

    /// Why a file could not be read.
    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Reads `path` and every file it includes (relative paths resolve against the including file's directory).
    public static func load(path: String) throws(ReadError) -> PgBouncerINI {
        var ini = PgBouncerINI()
        try ini.read(path: path, section: "", depth: 0)
        return ini
    }

    /// Parses `text` (named `file` in locations); `%include`d files are read from disk, an unreadable one skipped.
    public static func parse(_ text: String, file: String) -> PgBouncerINI {
        var ini = PgBouncerINI()
        var section = ""
        try? ini.read(text: text, file: file, section: &section, depth: 0)
        return ini
    }

    private mutating func read(path: String, section: String, depth: Int) throws(ReadError) {
        guard depth < 10 else { throw ReadError(description: "\(path): %include nested more than 10 deep") }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ReadError(description: "\(path): cannot read: \(error.localizedDescription)")
        }
        var current = section
        try read(text: text, file: path, section: &current, depth: depth)
    }

    private mutating func read(text: String, file: String, section: inout String, depth: Int) throws(ReadError) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmed
            let location = "\(file):\(index + 1)"
            if line.isEmpty || line.hasPrefix(";") || line.hasPrefix("#") { continue }
            if line.hasPrefix("%include") {
                let target = String(line.dropFirst("%include".count)).trimmed
                let resolved = target.hasPrefix("/") ? target
                    : (URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(target).path)
                try read(path: resolved, section: section, depth: depth + 1)
                continue
            }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmed.lowercased()
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                unreadable.append(Setting(section: section, key: line, value: "", location: location))
                continue
            }
            var key = String(line[..<equals]).trimmed
            if section != "databases" && section != "users" { key = key.lowercased() }
            let value = String(line[line.index(after: equals)...]).trimmed
            settings.append(Setting(section: section, key: key, value: value, location: location))
        }
    }
}

/// A `[databases]` value: libpq-style `key=value` pairs; values may be single-quoted (`''` or `\'` escape a quote).
enum ConnectionString {
    static func parse(_ text: String) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        let characters = Array(text)
        var index = 0
        func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }
        while true {
            skipSpaces()
            guard index < characters.count else { break }
            var key = ""
            while index < characters.count, characters[index] != "=", !characters[index].isWhitespace {
                key.append(characters[index]); index += 1
            }
            skipSpaces()
            guard index < characters.count, characters[index] == "=" else {
                pairs.append((key.lowercased(), "")); continue
            }
            index += 1
            skipSpaces()
            var value = ""
            if index < characters.count, characters[index] == "'" {
                index += 1
                while index < characters.count {
                    let character = characters[index]
                    if character == "\\", index + 1 < characters.count {
                        value.append(characters[index + 1]); index += 2; continue
                    }
                    if character == "'" {
                        if index + 1 < characters.count, characters[index + 1] == "'" {
                            value.append("'"); index += 2; continue
                        }
                        index += 1
                        break
                    }
                    value.append(character); index += 1
                }
            } else {
                while index < characters.count, !characters[index].isWhitespace {
                    value.append(characters[index]); index += 1
                }
            }
            pairs.append((key.lowercased(), value))
        }
        return pairs
    }
}
