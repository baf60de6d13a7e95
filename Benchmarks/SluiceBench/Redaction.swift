// Redaction: hides passwords in URLs, conninfo strings and libpq messages before anything is printed.
import Foundation

enum Redaction {
    /// `postgresql://user:secret@host` → `postgresql://user:****@host`;
    /// `password=secret` (conninfo or URL query) → `password=****`.
    static func redact(_ text: String, secrets: [String] = []) -> String {
        var result = text
        result = replace(#"(://[^:/@\s]*):[^@\s]*@"#, in: result, with: "$1:****@")
        result = replace(#"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)"#, in: result, with: "$1****")
        for secret in secrets where secret.count >= 3 {
            result = result.replacingOccurrences(of: secret, with: "****")
        }
        return result
    }

    private static func replace(_ pattern: String, in text: String, with template: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return text }
        let range = NSRange(text.startIndex..., in: text)
        return regex.stringByReplacingMatches(in: text, range: range, withTemplate: template)
    }
}
