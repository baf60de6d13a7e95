// SCRAMError and SCRAMChannelBinding: the failures and channel-binding choices of a SCRAM-SHA-256 exchange.

public enum SCRAMError: Error, Equatable, Sendable {
    /// The peer's message does not parse; the text says what was wrong (never a secret).
    case malformedMessage(String)
    /// The client's proof does not match the stored key: wrong password.
    case invalidProof
    /// The nonce does not continue the one this side sent.
    case nonceMismatch
    /// The client asked for channel binding (`p=…`), which this server does not offer.
    case unsupportedChannelBinding
    /// The server's signature is wrong: it does not know the password (or someone is in the middle).
    case serverSignatureMismatch
    /// The server ended the exchange with `e=<reason>`.
    case serverError(String)
    /// A message arrived when the exchange was not waiting for it (or after it failed).
    case invalidState
}

/// What the client says about channel binding in its GS2 header.
public enum SCRAMChannelBinding: Sendable, Equatable {
    /// "n,,": the client does not support channel binding.
    case none
    /// "y,,": the client supports it but thinks the server does not.
    case clientSupportsButNotUsed
    /// "p=tls-server-end-point,,": binds to the hash of the server's TLS certificate
    /// (mechanism SCRAM-SHA-256-PLUS); `c=` carries base64(GS2 header + hash).
    case tlsServerEndPoint(certificateHash: [UInt8])

    var gs2Header: String {
        switch self {
        case .none: "n,,"
        case .clientSupportsButNotUsed: "y,,"
        case .tlsServerEndPoint: "p=tls-server-end-point,,"
        }
    }
}
