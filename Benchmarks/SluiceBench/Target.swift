// Target: one named PostgreSQL URL to load (and optionally the proxy process to watch), parsed and checked.
import CLibpq
import Foundation

/// A command-line problem that ends the program with exit status 2 and a one-line message.
struct UsageFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct Target {
    /// Column name in the report (`direct`, `sluice`, `pgbouncer`).
    let name: String
    /// The URL or conninfo string exactly as given (contains the password; never print it).
    let url: String
    /// Process whose CPU time and RSS are sampled (the proxy), if any.
    let pid: Int32?
    /// Passwords found in `url`, removed from everything printed.
    let secrets: [String]

    /// The URL with its password hidden, safe to print.
    var redactedURL: String { Redaction.redact(url, secrets: secrets) }

    /// Hides this target's password in any text (libpq messages may quote the conninfo).
    func redact(_ text: String) -> String { Redaction.redact(text, secrets: secrets) }

    /// Checks `url` with libpq's own parser, so a bad URL fails with libpq's message.
    init(name: String, url: String, pid: Int32?) throws {
        guard !name.isEmpty else { throw UsageFailure("target name must not be empty (use NAME=URL)") }
        self.name = name
        self.url = url
        self.pid = pid
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &errorMessage) else {
            var message = "out of memory"
            if let errorMessage {
                message = String(cString: errorMessage).trimmingCharacters(in: .whitespacesAndNewlines)
                PQfreemem(errorMessage)
            }
            let safe = Redaction.redact(url)
            throw UsageFailure("invalid connection URL for \(name) (\(safe)): \(Redaction.redact(message))")
        }
        defer { PQconninfoFree(options) }
        var found: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                found.append(String(cString: value))
            }
            option += 1
        }
        secrets = found
        if let pid, !FileManager.default.fileExists(atPath: "/proc/\(pid)/stat") {
            throw UsageFailure("no process \(pid) to sample for \(name) (/proc/\(pid)/stat not found)")
        }
    }

    /// Parses `NAME=URL` or `NAME=URL@PID` (the last `@` followed only by digits names the pid).
    static func parseCompare(_ spec: String) throws -> Target {
        guard let equals = spec.firstIndex(of: "=") else {
            throw UsageFailure("--compare expects NAME=URL or NAME=URL@PID, got \(Redaction.redact(spec))")
        }
        let name = String(spec[..<equals])
        var url = String(spec[spec.index(after: equals)...])
        var pid: Int32?
        if let at = url.lastIndex(of: "@") {
            let tail = url[url.index(after: at)...]
            if !tail.isEmpty, tail.allSatisfy(\.isASCII), tail.allSatisfy(\.isNumber), let value = Int32(tail) {
                pid = value
                url = String(url[..<at])
            }
        }
        return try Target(name: name, url: url, pid: pid)
    }
}
