// SCRAMClientExchange: the client side of SCRAM-SHA-256(-PLUS), used when Sluice logs in to PostgreSQL.

/// Call `initialResponse()` for the SASLInitialResponse, then feed AuthenticationSASLContinue data to
/// `serverFirstReceived` (answer with SASLResponse) and AuthenticationSASLFinal data to `serverFinalReceived`.
/// Like libpq, it sends an empty user name (`n=`): PostgreSQL takes the user from the startup packet.
public struct SCRAMClientExchange: Sendable {
    private enum State: Sendable {
        case initial
        case awaitingServerFirst
        case awaitingServerFinal(expectedServerSignature: [UInt8])
        case finished
        case failed
    }

    private let password: String
    private let channelBinding: SCRAMChannelBinding
    private let clientNonce: String
    private let cachedKeys: SCRAMClientKeys?
    private var state = State.initial
    /// The user name sent in client-first; empty as PostgreSQL expects (tests set the RFC's "user").
    var username = ""

    /// The keys derived during this exchange (or reused from the cache); keep them to skip PBKDF2 next time.
    public private(set) var keys: SCRAMClientKeys?

    /// `nonce` is the client nonce (random when nil; tests pass a fixed one). `cachedKeys` are used
    /// when the server's salt and iterations match theirs.
    public init(password: String, channelBinding: SCRAMChannelBinding = .none, nonce: String? = nil,
                cachedKeys: SCRAMClientKeys? = nil) {
        self.password = password
        self.channelBinding = channelBinding
        self.clientNonce = nonce ?? SCRAM.generateNonce()
        self.cachedKeys = cachedKeys
    }

    /// True once the server's signature was verified.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    private var clientFirstBare: String { "n=\(SCRAM.escapeUsername(username)),r=\(clientNonce)" }

    /// The mechanism and client-first message for SASLInitialResponse.
    public mutating func initialResponse() -> (mechanism: String, data: [UInt8]) {
        if case .initial = state { state = .awaitingServerFirst }
        let mechanism: String
        if case .tlsServerEndPoint = channelBinding {
            mechanism = SCRAM.mechanismWithChannelBinding
        } else {
            mechanism = SCRAM.mechanism
        }
        return (mechanism, Array((channelBinding.gs2Header + clientFirstBare).utf8))
    }

    /// Takes server-first, returns client-final.
    public mutating func serverFirstReceived(_ data: [UInt8]) -> Result<[UInt8], SCRAMError> {
        guard case .awaitingServerFirst = state else { return fail(.invalidState) }
        // server-first-message: ["m=" …","] "r=" nonce "," "s=" base64 "," "i=" count ["," extensions]
        guard let text = SCRAM.utf8String(data), let attributes = SCRAM.attributes(text) else {
            return fail(.malformedMessage("server-first does not parse"))
        }
        guard attributes.first?.name != "m" else {
            return fail(.malformedMessage("server-first has an unsupported mandatory extension"))
        }
        guard attributes.count >= 3, attributes[0].name == "r", attributes[1].name == "s", attributes[2].name == "i" else {
            return fail(.malformedMessage("server-first is not r=…,s=…,i=…"))
        }
        let nonce = attributes[0].value
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { return fail(.nonceMismatch) }
        guard SCRAM.isValidNonce(nonce) else { return fail(.malformedMessage("server nonce is not printable")) }
        guard let salt = Base64.decode(attributes[1].value), !salt.isEmpty else {
            return fail(.malformedMessage("server salt is not base64"))
        }
        guard let iterations = Int(attributes[2].value), (1...SCRAM.maxIterations).contains(iterations) else {
            return fail(.malformedMessage("server iteration count is out of range"))
        }
        let keys: SCRAMClientKeys
        if let cachedKeys, cachedKeys.salt == salt, cachedKeys.iterations == iterations {
            keys = cachedKeys
        } else {
            keys = SCRAMClientKeys(password: password, salt: salt, iterations: iterations)
        }
        self.keys = keys
        var bindingData = Array(channelBinding.gs2Header.utf8)
        if case .tlsServerEndPoint(let certificateHash) = channelBinding { bindingData += certificateHash }
        let clientFinalWithoutProof = "c=\(Base64.encode(bindingData)),r=\(nonce)"
        let authMessage = "\(clientFirstBare),\(text),\(clientFinalWithoutProof)"
        let proof = SCRAM.clientProof(clientKey: keys.clientKey, authMessage: authMessage)
        let expected = SCRAM.serverSignature(serverKey: keys.serverKey, authMessage: authMessage)
        state = .awaitingServerFinal(expectedServerSignature: expected)
        return .success(Array("\(clientFinalWithoutProof),p=\(Base64.encode(proof))".utf8))
    }

    /// Takes server-final and checks the server's signature.
    public mutating func serverFinalReceived(_ data: [UInt8]) -> Result<Void, SCRAMError> {
        guard case .awaitingServerFinal(let expected) = state else { return fail(.invalidState).map { _ in } }
        // server-final-message: ("e=" server-error-value / "v=" base64) ["," extensions]
        guard let text = SCRAM.utf8String(data), let attributes = SCRAM.attributes(text), let first = attributes.first else {
            return fail(.malformedMessage("server-final does not parse")).map { _ in }
        }
        switch first.name {
        case "e":
            return fail(.serverError(String(first.value))).map { _ in }
        case "v":
            guard let signature = Base64.decode(first.value), constantTimeEquals(signature, expected) else {
                return fail(.serverSignatureMismatch).map { _ in }
            }
            state = .finished
            return .success(())
        default:
            return fail(.malformedMessage("server-final is neither v=… nor e=…")).map { _ in }
        }
    }

    private mutating func fail(_ error: SCRAMError) -> Result<[UInt8], SCRAMError> {
        state = .failed
        return .failure(error)
    }
}
