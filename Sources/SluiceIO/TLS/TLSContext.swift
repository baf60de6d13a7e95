// TLSContext: one immutable SSL_CTX per TLS policy (server side or client side), shared across loops.
import COpenSSL

/// A configured OpenSSL context. Built once (at start or reload) and shared by every loop:
/// `SSL_CTX` is safe to use from several threads once it is no longer changed, and nothing
/// here changes it after the factory returns.
public final class TLSContext: @unchecked Sendable {
    /// The `SSL_CTX *`.
    let context: OpaquePointer
    /// True for a context made by `server(…)`.
    public let isServer: Bool
    /// For client contexts: how the server's certificate is checked.
    public let serverVerification: TLSServerVerification
    /// For server contexts: what is demanded of client certificates.
    public let clientVerification: TLSClientVerification

    private init(context: OpaquePointer, isServer: Bool,
                 serverVerification: TLSServerVerification, clientVerification: TLSClientVerification) {
        self.context = context
        self.isServer = isServer
        self.serverVerification = serverVerification
        self.clientVerification = clientVerification
    }

    deinit { SSL_CTX_free(context) }

    /// The cipher list used for TLS 1.2 when none is configured (TLS 1.3 keeps OpenSSL's suites).
    public static let defaultCiphers = "HIGH:!aNULL:!MD5:!RC4"

    /// A server context: certificate chain and key (checked to match), optional client
    /// certificate verification against `caFile`, ALPN `postgresql`, no compression, no
    /// renegotiation, no session tickets or cache.
    public static func server(certificateFile: String, keyFile: String, caFile: String?,
                              clientVerification: TLSClientVerification,
                              minimumVersion: TLSVersion = .v1_2, maximumVersion: TLSVersion? = nil,
                              ciphers: String? = nil) throws -> TLSContext {
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not create TLS server context"))
        }
        let tls = TLSContext(context: raw, isServer: true, serverVerification: .none,
                             clientVerification: clientVerification)
        try tls.applyCommonSettings(minimumVersion: minimumVersion, maximumVersion: maximumVersion)
        _ = SSL_CTX_set_options(raw, sslOptionCipherServerPreference)
        let cipherList = ciphers ?? defaultCiphers
        guard SSL_CTX_set_cipher_list(raw, cipherList) == 1 else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not set the cipher list \"\(cipherList)\""))
        }
        try tls.loadCertificate(certificateFile: certificateFile, keyFile: keyFile)
        // Sessions are not resumed: no cache, no tickets (fewer bytes and no ticket keys to rotate).
        _ = SSL_CTX_ctrl(raw, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_OFF), nil)
        _ = SSL_CTX_set_num_tickets(raw, 0)
        let sessionContext: [UInt8] = Array("sluice".utf8)
        _ = SSL_CTX_set_session_id_context(raw, sessionContext, UInt32(sessionContext.count))
        SSL_CTX_set_alpn_select_cb(raw, selectPostgreSQLProtocol, nil)

        if clientVerification != .none {
            guard let caFile, !caFile.isEmpty else {
                throw TLSError.configuration("client certificate verification needs a CA file")
            }
            guard SSL_CTX_load_verify_locations(raw, caFile, nil) == 1 else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not load root certificate file \"\(caFile)\""))
            }
            guard let names = SSL_load_client_CA_file(caFile) else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not load root certificate file \"\(caFile)\""))
            }
            SSL_CTX_set_client_CA_list(raw, names)
            SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE, nil)
        } else {
            SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nil)
        }
        ERR_clear_error()
        return tls
    }

    /// A client context (for upstream connections): server verification per libpq's sslmode,
    /// roots from a file or the system store, an optional client certificate, ALPN set per session.
    public static func client(verification: TLSServerVerification, rootCertificates: TLSRoots,
                              certificateFile: String?, keyFile: String?,
                              minimumVersion: TLSVersion = .v1_2,
                              maximumVersion: TLSVersion? = nil) throws -> TLSContext {
        ERR_clear_error()
        guard let raw = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not create TLS client context"))
        }
        let tls = TLSContext(context: raw, isServer: false, serverVerification: verification,
                             clientVerification: .none)
        try tls.applyCommonSettings(minimumVersion: minimumVersion, maximumVersion: maximumVersion)
        switch rootCertificates {
        case .file(let path):
            guard SSL_CTX_load_verify_locations(raw, path, nil) == 1 else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not read root certificate file \"\(path)\""))
            }
        case .system:
            guard SSL_CTX_set_default_verify_paths(raw) == 1 else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not load the system root certificates"))
            }
        case .none:
            if verification != .none {
                throw TLSError.configuration("server certificate verification (verify-ca, verify-full) needs root certificates")
            }
        }
        SSL_CTX_set_verify(raw, verification == .none ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nil)
        if let certificateFile {
            try tls.loadCertificate(certificateFile: certificateFile, keyFile: keyFile ?? certificateFile)
        } else if let keyFile {
            throw TLSError.configuration("a client key file (\(keyFile)) was given without a certificate file")
        }
        ERR_clear_error()
        return tls
    }

    private func applyCommonSettings(minimumVersion: TLSVersion, maximumVersion: TLSVersion?) throws {
        if let maximumVersion, maximumVersion.openSSLValue < minimumVersion.openSSLValue {
            throw TLSError.configuration("TLS maximum version \(maximumVersion.rawValue) is below the minimum \(minimumVersion.rawValue)")
        }
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, minimumVersion.openSSLValue, nil) == 1 else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not set minimum TLS version \(minimumVersion.rawValue)"))
        }
        if let maximumVersion {
            guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, maximumVersion.openSSLValue, nil) == 1 else {
                throw TLSError.configuration(OpenSSLErrorQueue.message("could not set maximum TLS version \(maximumVersion.rawValue)"))
            }
        }
        _ = SSL_CTX_set_options(context, sslOptionNoCompression | sslOptionNoRenegotiation)
        // Writes may stop after any whole record and resume from a moved buffer (our retries do).
        _ = SSL_CTX_ctrl(context, SSL_CTRL_MODE,
                         Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
        // Never prompt on a terminal for a key passphrase: an encrypted key fails to load instead.
        SSL_CTX_set_default_passwd_cb(context, refusePassphrase)
    }

    private func loadCertificate(certificateFile: String, keyFile: String) throws {
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSError.configuration(OpenSSLErrorQueue.message("could not load certificate file \"\(certificateFile)\""))
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let entries = OpenSSLErrorQueue.drainEntries()
            let texts = OpenSSLErrorQueue.texts(entries)
            let what = entries.contains(where: { $0.reason == X509_R_KEY_VALUES_MISMATCH })
                ? "private key file \"\(keyFile)\" does not match certificate file \"\(certificateFile)\""
                : "could not load private key file \"\(keyFile)\""
            throw TLSError.configuration(texts.isEmpty ? what : "\(what): \(texts.joined(separator: "; "))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.configuration(OpenSSLErrorQueue.message(
                "private key file \"\(keyFile)\" does not match certificate file \"\(certificateFile)\""))
        }
    }
}

// SSL_OP_* are `SSL_OP_BIT(n)` macros, which Swift does not import.
let sslOptionNoCompression: UInt64 = 1 << 17
let sslOptionCipherServerPreference: UInt64 = 1 << 22
let sslOptionNoRenegotiation: UInt64 = 1 << 30

/// The ALPN protocol name PostgreSQL 17 registered for direct TLS.
let postgreSQLProtocolName: [UInt8] = Array("postgresql".utf8)

/// ALPN selection: picks `postgresql` when offered; a client offering only other protocols gets
/// no ALPN answer (OpenSSL's NOACK), so the owner sees `alpn == nil` and decides (direct TLS
/// connections should insist on `postgresql`). Clients sending no ALPN never reach this.
private let selectPostgreSQLProtocol: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
    UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
) -> Int32 = { _, out, outLength, offered, offeredLength, _ in
    guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let total = Int(offeredLength)
    var index = 0
    while index < total {
        let length = Int(offered[index])
        let start = index + 1
        if start + length > total { break }
        if length == postgreSQLProtocolName.count {
            var same = true
            for k in 0..<length where offered[start + k] != postgreSQLProtocolName[k] { same = false; break }
            if same {
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}

private let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = {
    _, _, _, _ in 0
}
