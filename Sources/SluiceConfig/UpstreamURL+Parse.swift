// UpstreamURL+Parse: reads `postgres[ql]://user:password@host:port,host2:port2/database?key=value&…`
// and libpq's keyword/value form `host=h1,h2 port=5432,5433 dbname=app user=app`.

extension UpstreamURL {
    /// Parses a libpq-style connection URL (schemes `postgres://` and `postgresql://`), or a
    /// keyword/value connection string. Query parameters `user`, `password`, `dbname`, `host` and
    /// `port` override the URL's parts, as in libpq.
    public static func parse(_ s: String) throws(UpstreamURLError) -> UpstreamURL {
        let text = s.trimmingSpaces
        guard let schemeEnd = text.firstRange(of: "://") else {
            if text.contains("=") { return try parseKeywords(text) }
            throw UpstreamURLError("expected a URL starting with postgresql:// or postgres://, or host=… dbname=… keywords")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgresql" || scheme == "postgres" else {
            let shown = scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" } ? " \(quoted(scheme))" : ""
            throw UpstreamURLError("unsupported scheme\(shown) (expected postgresql:// or postgres://)")
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = rest[authorityEnd...]
        var query: Substring = ""
        if let questionMark = path.firstIndex(of: "?") {
            query = path[path.index(after: questionMark)...]
            path = path[..<questionMark]
        }

        var url = UpstreamURL(host: "", user: "")
        var userText: Substring = ""
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userText = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        if let colon = userText.firstIndex(of: ":") {
            url.user = try decode(userText[..<colon], "user name")
            url.password = try decode(userText[userText.index(after: colon)...], "password")
        } else {
            url.user = try decode(userText, "user name")
        }
        var hosts: [String] = []
        var ports: [Int?] = []
        for part in try splitHosts(hostPort) {
            let (host, port) = try parseHostPort(part)
            hosts.append(host)
            ports.append(port)
        }
        var database = try decode(path.dropFirst(), "database name")
        var fields = Fields(hosts: hosts, ports: ports)
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else {
                throw UpstreamURLError("invalid query parameter: expected key=value")
            }
            let name = try decode(pair[..<equals], "a query parameter name")
            let rawValue = pair[pair.index(after: equals)...]
            let value = try decode(rawValue, name == "password" ? "password" : "query parameter \(quoted(name))")
            if name == "dbname" { database = value; continue }
            try url.apply(name, value, to: &fields)
        }
        try url.finish(fields)
        url.database = database.isEmpty ? url.user : database
        return url
    }

    /// Hosts and ports gathered while reading, matched up by `finish`.
    struct Fields {
        var hosts: [String]
        var ports: [Int?]
    }

    /// One connection parameter, from a URL's query or a keyword/value string.
    mutating func apply(_ name: String, _ value: String, to fields: inout Fields) throws(UpstreamURLError) {
        switch name {
        case "sslmode":
            guard let mode = SSLMode(rawValue: value) else {
                let modes = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw UpstreamURLError("invalid sslmode \(quoted(value)) (expected one of \(modes))")
            }
            sslMode = mode
        case "target_session_attrs":
            guard let attrs = TargetSessionAttrs(rawValue: value) else {
                let values = TargetSessionAttrs.allCases.map(\.rawValue).joined(separator: ", ")
                throw UpstreamURLError("invalid target_session_attrs \(quoted(value)) (expected one of \(values))")
            }
            targetSessionAttrs = attrs
        case "load_balance_hosts":
            guard value == "disable" || value == "random" else {
                throw UpstreamURLError("invalid load_balance_hosts \(quoted(value)) (expected disable or random)")
            }
            loadBalanceHosts = value == "random"
        case "options": options = value
        case "user": user = value
        case "password": password = value
        case "host":
            fields.hosts = value.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            if fields.hosts.contains(where: \.isEmpty) { throw UpstreamURLError("empty host name in the host list") }
            if fields.hosts.contains(where: { $0.hasPrefix("/") }) {
                throw UpstreamURLError("Unix-domain socket hosts are not supported; use a TCP host")
            }
        case "port":
            var list: [Int?] = []
            for text in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = String(text).trimmingSpaces
                if trimmed.isEmpty { list.append(nil); continue }
                guard let port = Int(trimmed), (1...65_535).contains(port) else {
                    throw UpstreamURLError("invalid port \(quoted(trimmed)) (expected a number from 1 to 65535)")
                }
                list.append(port)
            }
            fields.ports = list
        case "hostaddr":
            throw UpstreamURLError("parameter \"hostaddr\" is not supported; give the address as host")
        default: parameters[name] = value
        }
    }

    /// Matches hosts with ports as libpq does: one port for all hosts, or one per host.
    mutating func finish(_ fields: Fields) throws(UpstreamURLError) {
        guard !user.isEmpty else { throw UpstreamURLError("missing user name") }
        guard !fields.hosts.isEmpty else { throw UpstreamURLError("missing host") }
        let ports: [Int?]
        if fields.ports.count <= 1 {
            ports = Array(repeating: fields.ports.first ?? nil, count: fields.hosts.count)
        } else if fields.ports.count == fields.hosts.count {
            ports = fields.ports
        } else {
            throw UpstreamURLError("could not match \(fields.ports.count) port numbers to \(fields.hosts.count) hosts")
        }
        hosts = zip(fields.hosts, ports).map { UpstreamHost(host: $0, port: $1 ?? 5432) }
    }

    /// libpq's keyword/value form: `host=h1,h2 port=5432 dbname=app user=app password='it''s'`.
    static func parseKeywords(_ text: String) throws(UpstreamURLError) -> UpstreamURL {
        var url = UpstreamURL(host: "", user: "")
        var fields = Fields(hosts: [], ports: [])
        var database: String?
        var chars = Substring(text)
        while true {
            chars = chars.drop { $0.isWhitespace }
            guard !chars.isEmpty else { break }
            let name = String(chars.prefix { $0 != "=" && !$0.isWhitespace })
            chars = chars.dropFirst(name.count).drop { $0.isWhitespace }
            guard !name.isEmpty, chars.first == "=" else {
                throw UpstreamURLError("invalid connection string: expected keyword=value")
            }
            chars = chars.dropFirst().drop { $0.isWhitespace }
            var value = ""
            if chars.first == "'" {
                chars = chars.dropFirst()
                var closed = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if c == "\\", let next = chars.first { value.append(next); chars = chars.dropFirst(); continue }
                    if c == "'" { closed = true; break }
                    value.append(c)
                }
                guard closed else { throw UpstreamURLError("unterminated quoted string in connection string") }
            } else {
                while let c = chars.first, !c.isWhitespace {
                    chars = chars.dropFirst()
                    if c == "\\", let next = chars.first { value.append(next); chars = chars.dropFirst(); continue }
                    value.append(c)
                }
            }
            if name == "dbname" { database = value; continue }
            try url.apply(name, value, to: &fields)
        }
        try url.finish(fields)
        url.database = (database?.isEmpty ?? true) ? url.user : database!
        return url
    }

    /// The URL's host list split at commas outside brackets (`h1:5432,[::1]:5433`).
    private static func splitHosts(_ text: Substring) throws(UpstreamURLError) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        var inBrackets = false
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "[" { inBrackets = true } else if c == "]" { inBrackets = false } else if c == "," && !inBrackets {
                parts.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        parts.append(text[start...])
        if parts.count > 1 && parts.contains(where: \.isEmpty) { throw UpstreamURLError("empty host in the host list") }
        return parts
    }

    private static func parseHostPort(_ text: Substring) throws(UpstreamURLError) -> (String, Int?) {
        var hostText = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw UpstreamURLError("invalid IPv6 host: missing \"]\"") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw UpstreamURLError("unexpected text after IPv6 host") }
                portText = after.dropFirst()
            }
        } else {
            if let colon = text.lastIndex(of: ":") {
                hostText = text[..<colon]
                portText = text[text.index(after: colon)...]
                if hostText.contains(":") { throw UpstreamURLError("IPv6 hosts must be in brackets, e.g. [::1]:5432") }
            }
        }
        let host = try decode(hostText, "host")
        guard !host.isEmpty else { throw UpstreamURLError("missing host") }
        guard let portText else { return (host, nil) }
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65_535).contains(port) else {
            // The text is not repeated: with an unencoded "/" or "?" in it, it may be part of the password.
            throw UpstreamURLError("invalid port (expected a number from 1 to 65535)")
        }
        return (host, port)
    }

    private static func decode(_ text: Substring, _ what: String) throws(UpstreamURLError) -> String {
        guard let decoded = percentDecode(text) else { throw UpstreamURLError("invalid percent-encoding in \(what)") }
        return decoded
    }
}
