// TLSConfiguration: the small value types that describe a TLS policy and the results of TLS steps.

/// A TLS protocol version, spelled as OpenSSL and PostgreSQL spell it (`ssl_min_protocol_version`).
public enum TLSVersion: String, CaseIterable, Sendable {
    case v1_2 = "TLSv1.2"
    case v1_3 = "TLSv1.3"

    /// Parses "TLSv1.2", "tlsv1.3", "1.2", "TLS1.3" and the like; nil when unknown.
    public init?(parsing text: String) {
        let lowered = text.lowercased().filter { $0 != " " && $0 != "_" }
        switch lowered {
        case "tlsv1.2", "tls1.2", "1.2", "v1.2": self = .v1_2
        case "tlsv1.3", "tls1.3", "1.3", "v1.3": self = .v1_3
        default: return nil
        }
    }

    /// OpenSSL's protocol version number (TLS1_2_VERSION, TLS1_3_VERSION).
    var openSSLValue: Int { self == .v1_2 ? 0x0303 : 0x0304 }
}

/// What a server demands of client certificates (PostgreSQL's `clientcert`).
public enum TLSClientVerification: Sendable, Equatable {
    /// No client certificate is requested.
    case none
    /// A client certificate is required and must chain to the configured CA.
    case verifyCA
    /// As `.verifyCA`; the owner also matches `peerCertificateCommonName` against the user name.
    case verifyFull
}

/// How a client checks the server (libpq's `sslmode`).
public enum TLSServerVerification: Sendable, Equatable {
    /// Encrypt without checking the certificate (`require`, `prefer`, `allow`).
    case none
    /// The certificate must chain to a trusted root (`verify-ca`).
    case verifyCA
    /// As `.verifyCA`, and the certificate must name the host we connected to (`verify-full`).
    case verifyFull
}

/// Where a client finds the roots it trusts (libpq's `sslrootcert`).
public enum TLSRoots: Sendable, Equatable {
    /// A PEM file of one or more CA certificates.
    case file(String)
    /// The operating system's default store (`sslrootcert=system`).
    case system
    /// No roots: only usable with `TLSServerVerification.none`.
    case none
}

/// Which end of the handshake a session plays.
public enum TLSRole: Sendable, Equatable {
    /// We accept a client's ClientHello.
    case server
    /// We send the ClientHello; `serverName` is used for SNI and `.verifyFull` host checks.
    case client(serverName: String?)
}

/// Outcome of one handshake step.
public enum TLSHandshakeResult: Equatable, Sendable {
    /// The handshake is done; application data may flow.
    case complete
    /// More ciphertext must arrive (or leave) before the handshake can go on.
    case needsIO
    /// The handshake failed; the connection must be closed.
    case failed(TLSError)
}

/// Outcome of one plaintext read.
public enum TLSReadResult: Equatable, Sendable {
    /// This many plaintext bytes were stored.
    case bytes(Int)
    /// No whole record is buffered; more ciphertext must arrive.
    case needsIO
    /// The peer sent close_notify.
    case closed
    /// The connection failed (bad record, fatal alert).
    case failed(TLSError)
}
