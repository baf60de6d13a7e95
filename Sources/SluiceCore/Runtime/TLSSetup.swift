// TLSSetup: builds the OpenSSL contexts from the config: one toward clients, one per upstream URL.
import SluiceConfig
import SluiceIO

/// The TLS contexts in force; rebuilt at reload (a bad certificate keeps the previous one).
enum TLSSetup {
    /// The server-side context for clients, or nil when no certificate is configured.
    static func clientContext(_ config: SluiceConfig) throws -> TLSContext? {
        guard let certificate = config.clientTLSCert, let key = config.clientTLSKey else { return nil }
        let verification: TLSClientVerification
        switch config.clientTLSVerify {
        case .none: verification = .none
        case .verifyCA: verification = .verifyCA
        case .verifyFull: verification = .verifyFull
        }
        return try TLSContext.server(certificateFile: certificate, keyFile: key, caFile: config.clientTLSCA,
                                     clientVerification: verification,
                                     minimumVersion: config.clientTLSMinVersion == .tls13 ? .v1_3 : .v1_2,
                                     ciphers: config.clientTLSCiphers)
    }

    /// The client-side context for an upstream, following libpq's sslmode, sslrootcert, sslcert and sslkey.
    /// `disable` needs none. Without `sslrootcert`, verify-ca and verify-full use the system trust store.
    static func upstreamContext(_ url: UpstreamURL) throws -> TLSContext? {
        let verification: TLSServerVerification
        switch url.sslMode {
        case .disable: return nil
        case .allow, .prefer, .require: verification = .none
        case .verifyCA: verification = .verifyCA
        case .verifyFull: verification = .verifyFull
        }
        var roots = TLSRoots.none
        if verification != .none {
            switch url.parameters["sslrootcert"] {
            case nil, "system": roots = .system
            case let path?: roots = .file(path)
            }
        } else if let path = url.parameters["sslrootcert"], path != "system" {
            // libpq: with require and a root certificate present, the chain is verified (like verify-ca).
            return try TLSContext.client(verification: .verifyCA, rootCertificates: .file(path),
                                         certificateFile: url.parameters["sslcert"], keyFile: url.parameters["sslkey"])
        }
        return try TLSContext.client(verification: verification, rootCertificates: roots,
                                     certificateFile: url.parameters["sslcert"], keyFile: url.parameters["sslkey"])
    }
}

/// `channel_binding` from an upstream URL (libpq's values).
public enum ChannelBindingPolicy: String, Sendable {
    case disable, prefer, require

    init(_ url: UpstreamURL) {
        self = ChannelBindingPolicy(rawValue: url.parameters["channel_binding"] ?? "prefer") ?? .prefer
    }
}
