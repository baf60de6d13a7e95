// DoctorVerdict: turns a failure message (libpq's, the resolver's, connect's) into a verdict and a fix.

/// Which check a failure belongs to: the table marks that column FAIL and the later ones skipped.
public enum DoctorStage: String, Sendable, Encodable {
    case dns, tcp, tls, auth, query
}

/// A failure's one-word verdict, the column it shows in, and what to do about it.
public struct DoctorVerdict: Sendable, Equatable, Encodable {
    /// `DNS`, `TCP`, `TLS`, `AUTH`, `TIMEOUT`, `FULL`, `SERVER`, `ERROR`.
    public var verdict: String
    public var stage: DoctorStage
    public var fix: String

    public init(_ verdict: String, _ stage: DoctorStage, _ fix: String) {
        self.verdict = verdict
        self.stage = stage
        self.fix = fix
    }

    /// The verdict for a libpq connection error `message` of database `database`.
    public static func classify(libpqError message: String, database: String, timeout: Double) -> DoctorVerdict {
        let text = message.lowercased()
        let key = "databases.\(database).url"
        func has(_ words: String...) -> Bool { words.contains { text.contains($0) } }
        if has("password authentication failed", "password is required", "no password supplied", "sasl authentication failed",
               "invalid password") {
            return .init("AUTH", .auth, "password authentication failed → check the password in \(key)")
        }
        if has("no pg_hba.conf entry") {
            return .init("AUTH", .auth, "the server refuses this address, user or database → allow it in pg_hba.conf "
                + "(or the provider's IP allow list), or change sslmode in \(key)")
        }
        if has("role \"") && has("does not exist") {
            return .init("AUTH", .auth, "the role does not exist → check the user name in \(key)")
        }
        if has("database \"") && has("does not exist") {
            return .init("AUTH", .auth, "the database does not exist → check the database name (the URL's path) in \(key)")
        }
        if has("endpoint id is not specified", "endpoint is not specified") {
            return .init("AUTH", .auth, "Neon cannot tell the endpoint → add options=endpoint%3Dep-… to \(key)")
        }
        if has("channel binding") {
            return .init("AUTH", .auth, "channel binding failed → use TLS with SCRAM, or set channel_binding=prefer in \(key)")
        }
        if has("certificate verify failed", "unable to get local issuer", "self-signed certificate", "self signed certificate",
               "certificate has expired") {
            return .init("TLS", .tls, "certificate verify failed → set sslrootcert=system (publicly signed, e.g. Neon) or "
                + "sslrootcert=/path/to/ca.crt in \(key)")
        }
        if has("does not match host name") {
            return .init("TLS", .tls, "the certificate names another host → connect with the host name it names, or "
                + "use sslmode=verify-ca in \(key)")
        }
        if has("server does not support ssl") {
            return .init("TLS", .tls, "the server offers no TLS → enable ssl on the server, or (trusted network only) "
                + "sslmode=prefer in \(key)")
        }
        if has("root certificate file") {
            return .init("TLS", .tls, "the sslrootcert file cannot be read → fix its path or use sslrootcert=system in \(key)")
        }
        if has("ssl error", "ssl syscall", "ssl connection", "sslv3 alert", "tlsv1 alert") {
            return .init("TLS", .tls, "the TLS handshake failed → check sslmode and sslrootcert in \(key) and the server's TLS setup")
        }
        if has("could not translate host name", "name or service not known", "temporary failure in name resolution") {
            return dns(database: database)
        }
        if has("connection refused") {
            return .init("TCP", .tcp, "connection refused → check the host and port in \(key) and that the server is running")
        }
        if has("timeout expired", "timed out", "connection timed out") {
            return timeoutVerdict(timeout)
        }
        if has("no route to host", "network is unreachable") {
            return .init("TCP", .tcp, "no route to the host → check the network path, VPC peering or firewall")
        }
        if has("too many connections", "remaining connection slots are reserved", "sorry, too many clients") {
            return .init("FULL", .auth, "the server is out of connection slots → lower pool_size × replicas or raise max_connections")
        }
        if has("starting up", "shutting down", "in recovery mode", "not yet accepting connections") {
            return .init("SERVER", .auth, "the server is not accepting connections yet → retry in a moment")
        }
        return .init("ERROR", .auth, "see the message above; check \(key)")
    }

    /// The host name did not resolve.
    public static func dns(database: String) -> DoctorVerdict {
        .init("DNS", .dns, "could not translate host name → check the host in databases.\(database).url and the resolver "
            + "(/etc/resolv.conf, the cluster's DNS)")
    }

    /// Nothing answered in time.
    public static func timeoutVerdict(_ timeout: Double) -> DoctorVerdict {
        .init("TIMEOUT", .tcp, "no answer within \(Int(timeout.rounded(.up))) s → network path, firewall or security group, "
            + "or a suspended compute waking up (retry with a larger --timeout)")
    }

    /// A TCP connect failure with `errnoText` (strerror) on database `database`.
    public static func tcp(errorText: String, database: String, timeout: Double) -> DoctorVerdict {
        let text = errorText.lowercased()
        if text.contains("timed out") { return timeoutVerdict(timeout) }
        if text.contains("refused") {
            return .init("TCP", .tcp, "connection refused → check the host and port in databases.\(database).url and that the server is running")
        }
        return .init("TCP", .tcp, "\(errorText) → check the network path, firewall and the port in databases.\(database).url")
    }
}
