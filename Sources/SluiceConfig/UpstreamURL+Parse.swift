// UpstreamURL+Parse: reads `postgres[ql]://user:password@host:port/database?key=value&…`.

extension UpstreamURL {
    /// Parses a libpq-style connection URL (schemes `postgres://` and `postgresql://`).
    /// Query parameters `user`, `password` and `dbname` override the URL's parts, as in libpq.
    public static func parse(_ s: String) throws(UpstreamURLError) -> UpstreamURL {
        let text = s.trimmingSpaces
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw UpstreamURLError("expected a URL starting with postgresql:// or postgres://")
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
        (url.host, url.port) = try parseHostPort(hostPort)
        var database = try decode(path.dropFirst(), "database name")

        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else {
                throw UpstreamURLError("invalid query parameter: expected key=value")
            }
            let name = try decode(pair[..<equals], "a query parameter name")
            let rawValue = pair[pair.index(after: equals)...]
            let value = try decode(rawValue, name == "password" ? "password" : "query parameter \(quoted(name))")
            switch name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    let modes = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                    throw UpstreamURLError("invalid sslmode \(quoted(value)) (expected one of \(modes))")
                }
                url.sslMode = mode
            case "options": url.options = value
            case "user": url.user = value
            case "password": url.password = value
            case "dbname": database = value
            case "host", "hostaddr", "port":
                throw UpstreamURLError("query parameter \(quoted(name)) is not supported; put the host and port in the URL")
            default: url.parameters[name] = value
            }
        }
        guard !url.user.isEmpty else { throw UpstreamURLError("missing user name") }
        url.database = database.isEmpty ? url.user : database
        return url
    }

    private static func parseHostPort(_ text: Substring) throws(UpstreamURLError) -> (String, Int) {
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
            if text.contains(",") { throw UpstreamURLError("multiple hosts are not supported") }
            if let colon = text.lastIndex(of: ":") {
                hostText = text[..<colon]
                portText = text[text.index(after: colon)...]
                if hostText.contains(":") { throw UpstreamURLError("IPv6 hosts must be in brackets, e.g. [::1]:5432") }
            }
        }
        let host = try decode(hostText, "host")
        guard !host.isEmpty else { throw UpstreamURLError("missing host") }
        guard let portText else { return (host, 5432) }
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
