// UpstreamURL: where and how to reach an upstream PostgreSQL, from a libpq-style URL.

/// A parsed `postgres://` / `postgresql://` URL, so a Neon connection string can be pasted as is.
/// Its `description` is `redacted`: the password never reaches a log.
public struct UpstreamURL: Sendable, Equatable, Hashable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// Every host the URL lists, in order (libpq's multi-host URLs: `h1:5432,h2:5433`); never empty.
    public var hosts: [UpstreamHost]
    /// The first host's name or IP literal, brackets stripped (`::1`).
    public var host: String {
        get { hosts[0].host }
        set { hosts[0].host = newValue }
    }
    /// The first host's port: 5432 unless the URL says otherwise.
    public var port: Int {
        get { hosts[0].port }
        set { hosts[0].port = newValue }
    }
    /// `target_session_attrs`: which kind of server a connection must reach (libpq's values).
    public var targetSessionAttrs: TargetSessionAttrs = .any
    /// `load_balance_hosts=random`: try the hosts in a random order for each connection (PostgreSQL 16 libpq).
    public var loadBalanceHosts = false
    /// The upstream role; clients log in with it by default.
    public var user: String
    /// Percent-decoded password, if the URL has one.
    public var password: String?
    /// The path component; the user name when the URL has none (as libpq does).
    public var database: String
    /// Query parameter `sslmode`; `prefer` when absent (libpq's default).
    public var sslMode: SSLMode
    /// Query parameter `options`, percent-decoded (`endpoint=ep-123`, `-c search_path=x`).
    public var options: String?
    /// Every other query parameter, percent-decoded (`sslrootcert`, `channel_binding`, `application_name` …).
    public var parameters: [String: String]

    public init(
        host: String,
        port: Int = 5432,
        user: String,
        password: String? = nil,
        database: String? = nil,
        sslMode: SSLMode = .prefer,
        options: String? = nil,
        parameters: [String: String] = [:]
    ) {
        self.hosts = [UpstreamHost(host: host, port: port)]
        self.user = user
        self.password = password
        self.database = database ?? user
        self.sslMode = sslMode
        self.options = options
        self.parameters = parameters
    }

    /// Query parameters whose values are secret and shown as `***` by `redacted`.
    static let secretParameters: Set<String> = ["sslpassword"]

    /// The URL with the password (and other secrets) replaced by `***`, for logs and errors.
    public var redacted: String {
        var text = "postgresql://" + percentEncode(user)
        if password != nil { text += ":***" }
        text += "@" + hosts.map { ($0.host.contains(":") ? "[\($0.host)]" : percentEncode($0.host)) + ":\($0.port)" }
            .joined(separator: ",")
        text += "/" + percentEncode(database)
        var query = ["sslmode=" + sslMode.rawValue]
        if targetSessionAttrs != .any { query.append("target_session_attrs=" + targetSessionAttrs.rawValue) }
        if loadBalanceHosts { query.append("load_balance_hosts=random") }
        if let options { query.append("options=" + percentEncode(options)) }
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            let shown = Self.secretParameters.contains(name) ? "***" : percentEncode(value)
            query.append(percentEncode(name) + "=" + shown)
        }
        return text + "?" + query.joined(separator: "&")
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }

    /// Keeps `dump()` and nested printing from showing the password.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "hosts": hosts.map(\.description), "user": user,
            "password": password == nil ? "nil" : "***",
            "database": database, "sslMode": sslMode, "options": options as Any,
            "parameters": parameters.filter { !Self.secretParameters.contains($0.key) },
        ])
    }
}

/// One host of an upstream URL.
public struct UpstreamHost: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int = 5432) {
        self.host = host
        self.port = port
    }
    /// `host:port`, IPv6 in brackets.
    public var description: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }
}

/// libpq's `target_session_attrs`: what a server must be for a connection to keep it.
public enum TargetSessionAttrs: String, Sendable, CaseIterable {
    /// Any server.
    case any
    /// Accepts writes (`transaction_read_only` off): a primary.
    case readWrite = "read-write"
    /// Refuses writes: a standby, or a primary with `default_transaction_read_only` on.
    case readOnly = "read-only"
    /// Not in hot standby.
    case primary
    /// In hot standby.
    case standby
    /// A standby if any host is one, else any server.
    case preferStandby = "prefer-standby"
}

/// Why a string is not a usable upstream URL. `reason` never contains the password.
/// (Not named `URLError`: that would be ambiguous wherever Foundation is imported too.)
public struct UpstreamURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (user names, passwords, paths).
public func percentEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            out += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}

/// Decodes `%XX` escapes; nil when an escape is malformed or the bytes are not UTF-8.
func percentDecode(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
            return nil
        }
        bytes.append(high << 4 | low)
    }
    var decoded = ""
    var decoder = UTF8()
    var byteIterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&byteIterator) {
        case .scalarValue(let scalar): decoded.unicodeScalars.append(scalar)
        case .emptyInput: return decoded
        case .error: return nil
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
