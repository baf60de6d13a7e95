// Userlist: PgBouncer's auth_file format (userlist.txt), read by `auth_file` and by `sluice import-pgbouncer`.

/// PgBouncer's `auth_file` (userlist.txt): `"user" "password"` per line; `""` inside quotes is one `"`.
public enum PgBouncerUserlist {
    /// The users in file order (a later line for the same user wins, as in PgBouncer).
    public static func parse(_ text: String) -> [(user: String, password: String)] {
        var out: [(user: String, password: String)] = []
        for rawLine in text.split(separator: "\n") {
            var rest = Substring(String(rawLine).trimmingSpaces)
            guard rest.hasPrefix("\"") else { continue }
            guard let user = quotedField(&rest) else { continue }
            rest = Substring(String(rest).trimmingSpaces)
            let password = rest.hasPrefix("\"") ? quotedField(&rest) ?? "" : ""
            out.removeAll { $0.user == user }
            out.append((user, password))
        }
        return out
    }

    /// Reads one `"…"` field off the front of `text`.
    private static func quotedField(_ text: inout Substring) -> String? {
        guard text.first == "\"" else { return nil }
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "\"" {
                if next < text.endIndex, text[next] == "\"" {
                    value.append("\"")
                    index = text.index(after: next)
                    continue
                }
                text = text[next...]
                return value
            }
            value.append(character)
            index = next
        }
        return nil
    }
}
