// ListenAddress: one `host:port` a listener binds to.

/// An address to accept connections on. `host` is never empty and holds no brackets
/// (`::1`, not `[::1]`); "*" in the config becomes two addresses, `0.0.0.0` and `::`.
public struct ListenAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal or a host name.
    public var host: String
    /// 0 lets the operating system choose (useful in tests).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:6432`, or `[::1]:6432` for IPv6.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `host:port`, `[v6]:port` or `*:port` (which yields `0.0.0.0` and `::`).
    static func parse(_ input: String) throws(ValueProblem) -> [ListenAddress] {
        let text = input.trimmingSpaces
        guard !text.isEmpty else { throw ValueProblem("empty address (expected host:port)") }
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ValueProblem("invalid address \(quoted(text)): missing \"]\"")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ValueProblem("invalid address \(quoted(text)): expected [host]:port")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ValueProblem("invalid address \(quoted(text)): expected host:port")
            }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ValueProblem("invalid address \(quoted(text)): IPv6 addresses must be in brackets, e.g. [::1]:6432")
            }
        }
        guard !host.isEmpty else {
            throw ValueProblem("invalid address \(quoted(text)): missing host (use * for every interface)")
        }
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65_535).contains(port) else {
            throw ValueProblem("invalid address \(quoted(text)): port must be a number from 0 to 65535")
        }
        if host == "*" {
            return [ListenAddress(host: "0.0.0.0", port: port), ListenAddress(host: "::", port: port)]
        }
        return [ListenAddress(host: host, port: port)]
    }
}
