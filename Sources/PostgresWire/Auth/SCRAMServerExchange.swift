// SCRAMServerExchange: the server side of SCRAM-SHA-256, used when Sluice authenticates its clients.

/// Feed it the client's SASL messages; it answers with the server's. Any failure ends the exchange
/// (later calls return `.invalidState`); the caller then sends ErrorResponse 28P01.
public struct SCRAMServerExchange: Sendable {
    private enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(gs2Header: String, clientFirstBare: Substring, serverFirst: String, nonce: String)
        case finished
        case failed
    }

    private let secret: SCRAMSecret
    private let serverNonce: String
    private var state = State.awaitingClientFirst

    /// `nonce` is the server's part of the nonce (random when nil; tests pass a fixed one).
    public init(secret: SCRAMSecret, nonce: String? = nil) {
        self.secret = secret
        self.serverNonce = nonce ?? SCRAM.generateNonce()
    }

    /// True once the client's proof was verified.
    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Takes client-first (the SASLInitialResponse data), returns server-first.
    public mutating func clientFirstReceived(_ data: [UInt8]) -> Result<[UInt8], SCRAMError> {
        guard case .awaitingClientFirst = state else { return fail(.invalidState) }
        guard let text = SCRAM.utf8String(data) else { return fail(.malformedMessage("client-first is not UTF-8")) }
        // gs2-header: ("n" / "y" / "p=" cb-name) "," [authzid] ","
        switch text.first {
        case "n", "y": break
        case "p": return fail(.unsupportedChannelBinding)
        default: return fail(.malformedMessage("client-first has an invalid channel-binding flag"))
        }
        let afterFlag = text.dropFirst()
        guard afterFlag.first == "," else { return fail(.malformedMessage("client-first has an invalid GS2 header")) }
        let afterAuthzid = afterFlag.dropFirst()
        guard afterAuthzid.first == "," else {
            return fail(.malformedMessage("client-first uses an authorization identity, which is not supported"))
        }
        let gs2Header = String(text[..<afterAuthzid.index(after: afterAuthzid.startIndex)])
        let bare = afterAuthzid.dropFirst()
        // client-first-message-bare: "n=" saslname "," "r=" nonce ["," extensions]; the user name is ignored.
        guard let attributes = SCRAM.attributes(bare), attributes.count >= 2,
              attributes[0].name == "n", attributes[1].name == "r" else {
            return fail(.malformedMessage("client-first-message-bare is not n=…,r=…"))
        }
        guard !attributes.contains(where: { $0.name == "m" }) else {
            return fail(.malformedMessage("client-first has an unsupported mandatory extension"))
        }
        let clientNonce = attributes[1].value
        guard SCRAM.isValidNonce(clientNonce) else { return fail(.malformedMessage("client nonce is not printable")) }
        let nonce = String(clientNonce) + serverNonce
        let serverFirst = "r=\(nonce),s=\(Base64.encode(secret.salt)),i=\(secret.iterations)"
        state = .awaitingClientFinal(gs2Header: gs2Header, clientFirstBare: bare, serverFirst: serverFirst, nonce: nonce)
        return .success(Array(serverFirst.utf8))
    }

    /// Takes client-final (the SASLResponse data), verifies it, returns server-final ("v=…").
    public mutating func clientFinalReceived(_ data: [UInt8]) -> Result<[UInt8], SCRAMError> {
        guard case .awaitingClientFinal(let gs2Header, let clientFirstBare, let serverFirst, let nonce) = state else {
            return fail(.invalidState)
        }
        guard let text = SCRAM.utf8String(data) else { return fail(.malformedMessage("client-final is not UTF-8")) }
        // client-final-message: "c=" base64 "," "r=" nonce ["," extensions] "," "p=" base64
        // The proof is base64, so it follows the last comma.
        guard let lastComma = text.lastIndex(of: ","), text[text.index(after: lastComma)...].hasPrefix("p="),
              let attributes = SCRAM.attributes(text[..<lastComma]), attributes.count >= 2,
              attributes[0].name == "c", attributes[1].name == "r" else {
            return fail(.malformedMessage("client-final is not c=…,r=…,p=…"))
        }
        guard Base64.decode(attributes[0].value) == Array(gs2Header.utf8) else {
            return fail(.malformedMessage("client-final channel-binding data does not match its GS2 header"))
        }
        guard attributes[1].value == nonce else { return fail(.nonceMismatch) }
        guard let proof = Base64.decode(text[lastComma...].dropFirst(3)), proof.count == 32 else {
            return fail(.malformedMessage("client proof is not 32 bytes of base64"))
        }
        let authMessage = "\(clientFirstBare),\(serverFirst),\(text[..<lastComma])"
        let clientSignature = Crypto.hmacSHA256(key: secret.storedKey, authMessage)
        let clientKey = Crypto.xor(proof, clientSignature)
        guard constantTimeEquals(Crypto.sha256(clientKey), secret.storedKey) else { return fail(.invalidProof) }
        state = .finished
        let signature = SCRAM.serverSignature(serverKey: secret.serverKey, authMessage: authMessage)
        return .success(Array("v=\(Base64.encode(signature))".utf8))
    }

    private mutating func fail(_ error: SCRAMError) -> Result<[UInt8], SCRAMError> {
        state = .failed
        return .failure(error)
    }
}
