// ClientLogin: the client's startup and authentication exchange as a pure state machine.
import PostgresWire

/// How a client proves who it is, looked up by user name.
public struct ClientCredentials: Sendable {
    public var user: String
    /// Plaintext, when known (needed for md5).
    public var password: String?
    /// SCRAM secret (derived once from the plaintext, or given as a verifier).
    public var scram: SCRAMSecret?
    public init(user: String, password: String?, scram: SCRAMSecret?) {
        self.user = user
        self.password = password
        self.scram = scram
    }
}

/// The authentication Sluice asks of clients.
public enum ClientAuthentication: Sendable { case scramSHA256, md5 }

/// What the login machine learns about a database and user from the router.
public enum LoginLookup: Sendable {
    case unknownDatabase
    /// Known database; credentials nil means no such user (authentication still runs and fails).
    /// `tlsRequired`: the database's `client_tls` is `require`.
    case database(credentials: ClientCredentials?, tlsRequired: Bool)
}

/// The startup and authentication half of a client connection.
public struct ClientLoginMachine {
    public enum State {
        case awaitingStartup
        case awaitingPassword(salt: [UInt8])
        case awaitingSASLInitial
        case awaitingSASLResponse(SCRAMServerExchange)
        case authenticated
        case failed
    }

    public enum Action {
        /// Write these bytes to the client and wait for its next packet.
        case send([UInt8])
        /// Answer an SSLRequest or GSSENCRequest with the single byte 'N' and keep reading.
        case refuseEncryption
        /// Answer an SSLRequest with 'S' and start the TLS handshake; the StartupMessage follows inside TLS.
        case acceptTLS
        /// Forward this cancel request to the server of the client owning the key; close silently.
        case forwardCancel(processID: Int32, secretKey: UInt32)
        /// Send this FATAL error, then close the connection; `reason` is for the log and counters.
        case sendErrorAndClose(ErrorResponse, reason: String)
        /// The client is who it says: attach it to its database's pool (write `bytes` first).
        case authenticated(bytes: [UInt8])
    }

    public private(set) var state: State = .awaitingStartup
    public private(set) var user = ""
    public private(set) var database = ""
    public private(set) var parameters = SessionParameters()
    public private(set) var applicationName = ""
    private var credentials: ClientCredentials?
    private let method: ClientAuthentication
    private let randomBytes: (Int) -> [UInt8]
    /// Whether Sluice can offer TLS (a certificate is loaded and `client_tls` is not disable).
    private let tlsAvailable: Bool
    /// Whether the connection is already encrypted.
    public var isTLS = false

    public init(method: ClientAuthentication, tlsAvailable: Bool = false, randomBytes: @escaping (Int) -> [UInt8]) {
        self.method = method
        self.tlsAvailable = tlsAvailable
        self.randomBytes = randomBytes
    }

    /// A StartupMessage, SSLRequest, GSSENCRequest or CancelRequest arrived.
    public mutating func startupPacketReceived(_ packet: StartupPacket, lookup: (String, String) -> LoginLookup) -> Action {
        guard case .awaitingStartup = state else {
            return fail(.protocolViolation, "unexpected startup packet", reason: "protocol_violation")
        }
        switch packet {
        case .sslRequest:
            if isTLS { return fail(.protocolViolation, "SSLRequest on an encrypted connection", reason: "protocol_violation") }
            return tlsAvailable ? .acceptTLS : .refuseEncryption
        case .gssEncRequest:
            return .refuseEncryption
        case .cancelRequest(let pid, let key):
            state = .failed
            return .forwardCancel(processID: pid, secretKey: key)
        case .startup(let version, let startupParameters):
            guard StartupPacket.majorVersion(version) == 3 else {
                return fail(SQLState.featureNotSupported,
                            "unsupported frontend protocol \(StartupPacket.majorVersion(version)).\(StartupPacket.minorVersion(version)): server supports 3.0 to 3.0",
                            reason: "unsupported_protocol")
            }
            var prefix: [UInt8] = []
            let unrecognized = startupParameters.pairs.map(\.name).filter { $0.hasPrefix("_pq_.") }
            if StartupPacket.minorVersion(version) > 0 || !unrecognized.isEmpty {
                NegotiateProtocolVersion(newestMinorVersion: 0, unrecognizedOptions: unrecognized).encode(into: &prefix)
            }
            guard let user = startupParameters["user"], !user.isEmpty else {
                return fail(SQLState.invalidAuthorizationSpecification,
                            "no PostgreSQL user name specified in startup packet", reason: "no_user")
            }
            self.user = user
            self.database = startupParameters["database"].flatMap { $0.isEmpty ? nil : $0 } ?? user
            self.applicationName = startupParameters["application_name"] ?? ""
            do {
                parameters = try SessionParameters.fromStartup(startupParameters.pairs.filter { !$0.name.hasPrefix("_pq_.") })
            } catch {
                return fail(SQLState.invalidParameterValue, "\(error)", reason: "bad_startup_parameter")
            }
            switch lookup(database, user) {
            case .unknownDatabase:
                return fail(SQLState.invalidCatalogName,
                            "database \"\(database)\" does not exist in sluice config", reason: "unknown_database")
            case .database(let found, let tlsRequired):
                if tlsRequired && !isTLS {
                    return fail(SQLState.invalidAuthorizationSpecification,
                                "TLS is required to connect to database \"\(database)\" (client_tls=require): connect with sslmode=require (or stricter) in the connection URL",
                                reason: "tls_required")
                }
                credentials = found
            }
            switch method {
            case .md5:
                let salt = randomBytes(4)
                state = .awaitingPassword(salt: salt)
                Authentication.md5Password(salt: salt).encode(into: &prefix)
            case .scramSHA256:
                state = .awaitingSASLInitial
                Authentication.sasl(mechanisms: ["SCRAM-SHA-256"]).encode(into: &prefix)
            }
            return .send(prefix)
        }
    }

    /// A 'p' message (password, SASLInitialResponse or SASLResponse) arrived with this body.
    public mutating func passwordMessageReceived(body: ArraySlice<UInt8>) -> Action {
        switch state {
        case .awaitingPassword(let salt):
            guard let message = try? PasswordMessage.decode(body: body) else {
                return fail(.protocolViolation, "invalid password packet", reason: "protocol_violation")
            }
            guard let credentials, let password = credentials.password,
                  MD5Password.verify(response: message.password, user: user, password: password, salt: salt) else {
                return authenticationFailed()
            }
            return succeed()
        case .awaitingSASLInitial:
            guard let message = try? SASLInitialResponse.decode(body: body) else {
                return fail(.protocolViolation, "malformed SASL message", reason: "protocol_violation")
            }
            guard message.mechanism == "SCRAM-SHA-256" else {
                return fail(.protocolViolation,
                            "client selected an invalid SASL authentication mechanism", reason: "protocol_violation")
            }
            // Unknown users run the exchange against a secret no password matches (like PostgreSQL's mock auth).
            let secret = credentials?.scram ?? SCRAMSecret(salt: randomBytes(16), iterations: 4096,
                                                           storedKey: randomBytes(32), serverKey: randomBytes(32))
            var exchange = SCRAMServerExchange(secret: secret)
            switch exchange.clientFirstReceived(message.data ?? []) {
            case .success(let serverFirst):
                state = .awaitingSASLResponse(exchange)
                return .send(Authentication.saslContinue(data: serverFirst).encoded)
            case .failure(let error):
                return fail(.protocolViolation, "malformed SCRAM message: \(error)", reason: "protocol_violation")
            }
        case .awaitingSASLResponse(var exchange):
            guard let message = try? SASLResponse.decode(body: body) else {
                return fail(.protocolViolation, "malformed SASL message", reason: "protocol_violation")
            }
            switch exchange.clientFinalReceived(message.data) {
            case .success(let serverFinal):
                guard credentials?.scram != nil else { return authenticationFailed() }
                var bytes = Authentication.saslFinal(data: serverFinal).encoded
                state = .authenticated
                Authentication.ok.encode(into: &bytes)
                return .authenticated(bytes: bytes)
            case .failure(.invalidProof):
                return authenticationFailed()
            case .failure(let error):
                return fail(.protocolViolation, "malformed SCRAM message: \(error)", reason: "protocol_violation")
            }
        default:
            return fail(.protocolViolation, "unexpected password message", reason: "protocol_violation")
        }
    }

    /// Any other message during login.
    public mutating func unexpectedMessageReceived(type: UInt8) -> Action {
        fail(.protocolViolation, "expected password response, got message type \(Character(Unicode.Scalar(type)))",
             reason: "protocol_violation")
    }

    private mutating func succeed() -> Action {
        state = .authenticated
        return .authenticated(bytes: Authentication.ok.encoded)
    }

    private mutating func authenticationFailed() -> Action {
        fail(SQLState.invalidPassword, "password authentication failed for user \"\(user)\"", reason: "auth_failed")
    }

    private mutating func fail(_ code: String, _ message: String, reason: String) -> Action {
        state = .failed
        return .sendErrorAndClose(ErrorResponse(severity: .fatal, code: code, message: message), reason: reason)
    }
}

extension String {
    static let protocolViolation = SQLState.protocolViolation
}
