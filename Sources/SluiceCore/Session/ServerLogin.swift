// ServerLogin: Sluice logging in to the upstream PostgreSQL, as a pure state machine.
import PostgresWire

/// Why a server login failed, and whether trying again may help.
public struct ServerLoginFailure: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// Connection refused, starting up, too many connections: worth another attempt.
    public var retryable: Bool
    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }
    public var description: String { "\(message) (SQLSTATE \(code))" }

    /// SQLSTATEs that a waking or busy server gives and that a later attempt may not.
    static func isRetryable(code: String, message: String) -> Bool {
        switch code {
        case SQLState.cannotConnectNow, SQLState.tooManyConnections, SQLState.adminShutdown,
             SQLState.crashShutdown, SQLState.connectionFailure, SQLState.connectionException,
             "53000", "58000", "XX000":
            return true
        default:
            let lower = message.lowercased()
            return lower.contains("compute is starting") || lower.contains("starting up")
                || lower.contains("endpoint is disabled") || lower.contains("waking")
        }
    }
}

/// The upstream login exchange: startup, authentication, parameters, BackendKeyData, ReadyForQuery.
public struct ServerLoginMachine {
    enum State {
        case awaitingAuthentication
        case awaitingSASLContinue(SCRAMClientExchange)
        case awaitingSASLFinal(SCRAMClientExchange)
        case awaitingReady
        case ready
        case failed
    }

    public enum Action {
        /// Write these bytes to the server and keep reading.
        case send([UInt8])
        /// Nothing to do; keep reading.
        case none
        /// Logged in: the server's reported parameters and its cancel key.
        case ready(parameters: [(name: String, value: String)], key: BackendKeyData?)
        /// Close the connection; the login failed.
        case fail(ServerLoginFailure)
    }

    private var state: State = .awaitingAuthentication
    private let user: String
    private let password: String?
    private var parameters: [(name: String, value: String)] = []
    private var key: BackendKeyData?
    private let channelBinding: ChannelBindingPolicy
    /// tls-server-end-point hash of the server's certificate; nil without TLS.
    private let serverCertificateHash: [UInt8]?
    private var usedChannelBinding = false

    public init(user: String, password: String?, channelBinding: ChannelBindingPolicy = .prefer,
                serverCertificateHash: [UInt8]? = nil) {
        self.user = user
        self.password = password
        self.channelBinding = channelBinding
        self.serverCertificateHash = serverCertificateHash
    }

    /// The StartupMessage: user, database, and `options` (Neon's `endpoint=` travels there).
    public static func startupPacket(user: String, database: String, options: String?,
                                     extra: [(String, String)] = []) -> [UInt8] {
        var parameters = StartupParameters([("user", user), ("database", database)])
        if let options, !options.isEmpty { parameters["options"] = options }
        for (name, value) in extra { parameters[name] = value }
        return StartupPacket.startup(protocolVersion: StartupPacket.protocolVersion3, parameters: parameters).encoded
    }

    /// One whole message from the server during login.
    public mutating func messageReceived(type: UInt8, body: ArraySlice<UInt8>) -> Action {
        do {
            switch type {
            case Authentication.typeCode:
                return try authenticationReceived(Authentication.decode(body: body))
            case ParameterStatus.typeCode:
                let status = try ParameterStatus.decode(body: body)
                parameters.append((status.name, status.value))
                return .none
            case BackendKeyData.typeCode:
                key = try BackendKeyData.decode(body: body)
                return .none
            case ReadyForQuery.typeCode:
                guard case .awaitingReady = state else { return protocolViolation("ReadyForQuery before authentication") }
                state = .ready
                return .ready(parameters: parameters, key: key)
            case ErrorResponse.typeCode:
                let error = try ErrorResponse.decode(body: body)
                state = .failed
                let code = error.code ?? SQLState.connectionFailure
                let message = error.message ?? "unknown error"
                return .fail(ServerLoginFailure(code: code, message: message,
                                                retryable: ServerLoginFailure.isRetryable(code: code, message: message)))
            case NoticeResponse.typeCode, NegotiateProtocolVersion.typeCode:
                return .none
            default:
                return protocolViolation("unexpected message type \(type) during login")
            }
        } catch {
            return protocolViolation("malformed message during login: \(error)")
        }
    }

    private mutating func authenticationReceived(_ request: Authentication) -> Action {
        switch (request, state) {
        case (.ok, .awaitingAuthentication), (.ok, .awaitingSASLFinal):
            if case .awaitingSASLFinal = state { return protocolViolation("AuthenticationOk before SASL final") }
            if channelBinding == .require && !usedChannelBinding {
                state = .failed
                return .fail(ServerLoginFailure(code: SQLState.invalidAuthorizationSpecification,
                                                message: "channel binding required, but server authenticated client without channel binding",
                                                retryable: false))
            }
            state = .awaitingReady
            return .none
        case (.cleartextPassword, .awaitingAuthentication):
            guard let password else { return noPassword() }
            return .send(PasswordMessage(password: password).encoded)
        case (.md5Password(let salt), .awaitingAuthentication):
            guard let password else { return noPassword() }
            return .send(PasswordMessage(password: MD5Password.hash(user: user, password: password, salt: salt)).encoded)
        case (.sasl(let mechanisms), .awaitingAuthentication):
            guard let password else { return noPassword() }
            let plusOffered = mechanisms.contains("SCRAM-SHA-256-PLUS")
            var binding = SCRAMChannelBinding.none
            if channelBinding != .disable, let hash = serverCertificateHash, plusOffered {
                binding = .tlsServerEndPoint(certificateHash: hash)
                usedChannelBinding = true
            } else if channelBinding == .require {
                state = .failed
                return .fail(ServerLoginFailure(code: SQLState.invalidAuthorizationSpecification,
                                                message: serverCertificateHash == nil
                                                    ? "channel binding required, but the connection to the server is not encrypted"
                                                    : "channel binding required, but the server does not offer SCRAM-SHA-256-PLUS",
                                                retryable: false))
            } else if serverCertificateHash != nil && !plusOffered && channelBinding != .disable {
                binding = .clientSupportsButNotUsed
            }
            guard mechanisms.contains("SCRAM-SHA-256") || usedChannelBinding else {
                return unsupported("server offers SASL mechanisms \(mechanisms.joined(separator: ", ")) only")
            }
            var exchange = SCRAMClientExchange(password: password, channelBinding: binding)
            let first = exchange.initialResponse()
            state = .awaitingSASLContinue(exchange)
            return .send(SASLInitialResponse(mechanism: first.mechanism, data: first.data).encoded)
        case (.saslContinue(let data), .awaitingSASLContinue(var exchange)):
            switch exchange.serverFirstReceived(data) {
            case .success(let clientFinal):
                state = .awaitingSASLFinal(exchange)
                return .send(SASLResponse(data: clientFinal).encoded)
            case .failure(let error):
                return protocolViolation("SCRAM exchange with the server failed: \(error)")
            }
        case (.saslFinal(let data), .awaitingSASLFinal(var exchange)):
            switch exchange.serverFinalReceived(data) {
            case .success:
                state = .awaitingAuthentication  // AuthenticationOk follows
                return .none
            case .failure(let error):
                return protocolViolation("server's SCRAM signature did not verify: \(error)")
            }
        case (.unsupported(let code), _):
            return unsupported("authentication method \(code) not supported")
        default:
            return protocolViolation("unexpected authentication request \(request.code)")
        }
    }

    private mutating func noPassword() -> Action {
        state = .failed
        return .fail(ServerLoginFailure(code: SQLState.invalidPassword,
                                        message: "the server asked for a password but the database URL has none",
                                        retryable: false))
    }

    private mutating func unsupported(_ message: String) -> Action {
        state = .failed
        return .fail(ServerLoginFailure(code: SQLState.featureNotSupported, message: message, retryable: false))
    }

    private mutating func protocolViolation(_ message: String) -> Action {
        state = .failed
        return .fail(ServerLoginFailure(code: SQLState.protocolViolation, message: message, retryable: false))
    }
}
