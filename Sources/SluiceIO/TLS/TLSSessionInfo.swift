// TLSSessionInfo: what a session negotiated and who the peer is (for logs, SHOW, SCRAM channel binding).
import COpenSSL

extension TLSSession {
    /// "TLSv1.3" or "TLSv1.2" once the handshake is complete.
    public var negotiatedProtocol: String? {
        guard isEstablished, let version = SSL_get_version(ssl) else { return nil }
        return String(cString: version)
    }

    /// The cipher suite name, e.g. "TLS_AES_256_GCM_SHA384".
    public var cipher: String? {
        guard isEstablished, let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The ALPN protocol agreed on ("postgresql"), or nil when none was.
    public var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer certificate's subject in RFC 2253 form ("CN=localhost,O=Sluice"), if it sent one.
    public var peerCertificateSubject: String? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(certificate) else { return nil }
        return TLSSession.rfc2253(name)
    }

    /// The peer certificate's common name (for `clientcert=verify-full`: compare with the user name).
    public var peerCertificateCommonName: String? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let name = X509_get_subject_name(certificate) else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index),
              let data = X509_NAME_ENTRY_get_data(entry), let bytes = ASN1_STRING_get0_data(data) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(data))), as: UTF8.self)
    }

    /// tls-server-end-point channel binding data (RFC 5929 §4.1, used by SCRAM-SHA-256-PLUS):
    /// the hash of the server's DER certificate, with the certificate's signature digest,
    /// SHA-256 instead of MD5 or SHA-1. The client side hashes the peer's certificate, the
    /// server side its own. Nil before the handshake or when the digest is undefined (Ed25519).
    public var serverCertificateHashForChannelBinding: [UInt8]? {
        guard isEstablished else { return nil }
        let certificate: OpaquePointer?
        switch role {
        case .server: certificate = SSL_get_certificate(ssl)
        case .client: certificate = SSL_get0_peer_certificate(ssl)
        }
        guard let certificate else { return nil }
        var digestNID: Int32 = NID_undef
        guard X509_get_signature_info(certificate, &digestNID, nil, nil, nil) == 1 else { return nil }
        if digestNID == NID_md5 || digestNID == NID_sha1 { digestNID = NID_sha256 }
        guard digestNID != NID_undef, let shortName = OBJ_nid2sn(digestNID),
              let digest = EVP_get_digestbyname(shortName) else { return nil }
        var hash = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, digest, &hash, &length) == 1 else { return nil }
        return Array(hash.prefix(Int(length)))
    }

    /// XN_FLAG_RFC2253 (a macro of macros Swift does not import).
    private static let rfc2253Flags: UInt = 0x317 | (1 << 16) | (1 << 20) | (1 << 24)

    static func rfc2253(_ name: OpaquePointer) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, rfc2253Flags) >= 0 else { return nil }
        let count = Int(BIO_ctrl_pending(bio))
        var bytes = [UInt8](repeating: 0, count: count)
        let read = BIO_read(bio, &bytes, Int32(count))
        return String(decoding: bytes.prefix(Int(max(read, 0))), as: UTF8.self)
    }
}
