// SCRAMSecret: a SCRAM-SHA-256 verifier (salt, iterations, StoredKey, ServerKey) in PostgreSQL's stored form.

public struct SCRAMSecret: Sendable, Equatable {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Computes the verifier for a password (PBKDF2 cost: run it off the event loop).
    /// Iterations are clamped to 1…Int32.max.
    public static func derive(password: String, salt: [UInt8], iterations: Int = SCRAM.defaultIterations) -> SCRAMSecret {
        let rounds = Int32(clamping: max(1, iterations))
        let salted = SCRAM.saltedPassword(password: password, salt: salt, iterations: rounds)
        return SCRAMSecret(salt: salt, iterations: Int(rounds),
                           storedKey: Crypto.sha256(SCRAM.clientKey(saltedPassword: salted)),
                           serverKey: SCRAM.serverKey(saltedPassword: salted))
    }

    /// Parses "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>"
    /// (pg_authid.rolpassword); nil if it is anything else.
    public static func parse(_ text: String) -> SCRAMSecret? {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "SCRAM-SHA-256" else { return nil }
        let parameters = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let keys = parts[2].split(separator: ":", omittingEmptySubsequences: false)
        guard parameters.count == 2, keys.count == 2,
              let iterations = Int(parameters[0]), (1...Int(Int32.max)).contains(iterations),
              let salt = Base64.decode(parameters[1]), !salt.isEmpty,
              let storedKey = Base64.decode(keys[0]), storedKey.count == 32,
              let serverKey = Base64.decode(keys[1]), serverKey.count == 32 else { return nil }
        return SCRAMSecret(salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    /// The stored form `parse` reads.
    public var stored: String {
        "SCRAM-SHA-256$\(iterations):\(Base64.encode(salt))$\(Base64.encode(storedKey)):\(Base64.encode(serverKey))"
    }
}

/// ClientKey and ServerKey for one (password, salt, iterations): lets a client that logs in
/// many times with the same password skip PBKDF2 when the server's salt and iterations match.
public struct SCRAMClientKeys: Sendable, Equatable {
    public var salt: [UInt8]
    public var iterations: Int
    public var clientKey: [UInt8]
    public var serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, clientKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.clientKey = clientKey
        self.serverKey = serverKey
    }

    /// Runs PBKDF2; iterations are clamped to 1…Int32.max.
    public init(password: String, salt: [UInt8], iterations: Int) {
        let rounds = Int32(clamping: max(1, iterations))
        let salted = SCRAM.saltedPassword(password: password, salt: salt, iterations: rounds)
        self.init(salt: salt, iterations: Int(rounds), clientKey: SCRAM.clientKey(saltedPassword: salted),
                  serverKey: SCRAM.serverKey(saltedPassword: salted))
    }
}
