// UpstreamURL: where and how to reach an upstream PostgreSQL, from a libpq-style URL.

/// A parsed `postgres://` / `postgresql://` URL, so a Neon connection string can be pasted as is.
/// Its `description` is `redacted`: the password never reaches a log.
public struct UpstreamURL: Sendable, Equatable, Hashable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// Host name or IP literal, brackets stripped (`::1`).
    public var host: String
    /// 5432 unless the URL says otherwise.
    public var port: Int
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
        self.host = host
        self.port = port
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
        text += "@" + (host.contains(":") ? "[\(host)]" : percentEncode(host))
        text += ":\(port)/" + percentEncode(database)
        var query = ["sslmode=" + sslMode.rawValue]
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
            "host": host, "port": port, "user": user,
            "password": password == nil ? "nil" : "***",
            "database": database, "sslMode": sslMode, "options": options as Any,
            "parameters": parameters.filter { !Self.secretParameters.contains($0.key) },
        ])
    }
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
