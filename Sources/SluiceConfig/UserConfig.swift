// UserConfig: one `[users.NAME]` table — a client login with its own password.

/// A user that logs in to Sluice (as opposed to the upstream user in a database URL).
/// Printing it never shows the password.
public struct UserConfig: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The role name clients send in their startup packet.
    public var name: String
    /// `password`: plaintext, a `SCRAM-SHA-256$…` verifier or `md5` + 32 hex digits, as PostgreSQL stores them.
    public var password: String

    /// `max_user_client_connections` / `max_user_connections` for this user (nil: the global value).
    public var maxUserClientConnections: Int?
    public var maxUserConnections: Int?

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }

    /// What `password` holds, told apart the way PostgreSQL does.
    public enum PasswordKind: Sendable, Equatable {
        case plaintext
        /// `md5` followed by the 32 hex digits of md5(password + user name).
        case md5Hash
        /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
        case scramSHA256Verifier
    }

    public var passwordKind: PasswordKind {
        if password.hasPrefix("SCRAM-SHA-256$") { return .scramSHA256Verifier }
        if Self.isMD5Hash(password) { return .md5Hash }
        return .plaintext
    }

    public var description: String { "UserConfig(name: \(name), password: ***)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "password": "***"]) }

    static func isMD5Hash(_ text: String) -> Bool {
        text.utf8.count == 35 && text.hasPrefix("md5") && text.utf8.dropFirst(3).allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }
    }

    /// Every `[users.NAME]` key; `SLUICE_USERS__<NAME>__<KEY>` and the unknown-key check read it too.
    static let keys: [ConfigKey<UserConfig>] = [
        // Optional: a `[users.NAME]` without a password only sets limits for a database URL's user.
        .init("password", \.password, default: "", .password),
        .init("max_user_client_connections", \.maxUserClientConnections, .integer(0...1_000_000)),
        .init("max_user_connections", \.maxUserConnections, .integer(0...100_000)),
    ]

    /// Why `name` cannot name a user, or nil when it can.
    static func problem(withName name: String) -> String? {
        name.isEmpty || name.utf8.count > 63 ? "user name must be 1 to 63 characters long" : nil
    }
}

extension ValueDecoder where Value == String {
    /// A non-empty password; a `SCRAM-SHA-256$` verifier must be well formed. Never echoes the value.
    static var password: Self {
        Self { (value, _) throws(ValueProblem) in
            let password = try string(value)
            guard !password.isEmpty else { throw ValueProblem("must not be empty") }
            if password.hasPrefix("SCRAM-SHA-256$"), !isSCRAMVerifier(password) {
                throw ValueProblem(
                    "malformed SCRAM-SHA-256 verifier (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)")
            }
            return password
        }
    }
}

/// Whether `text` has the shape `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
func isSCRAMVerifier(_ text: String) -> Bool {
    let parts = text.split(separator: "$", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0] == "SCRAM-SHA-256" else { return false }
    let iterationsAndSalt = parts[1].split(separator: ":", omittingEmptySubsequences: false)
    let keys = parts[2].split(separator: ":", omittingEmptySubsequences: false)
    guard iterationsAndSalt.count == 2, keys.count == 2,
          let iterations = Int(iterationsAndSalt[0]), iterations > 0 else { return false }
    let isBase64: (Substring) -> Bool = { part in
        !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" || $0 == "=") }
    }
    return isBase64(iterationsAndSalt[1]) && keys.allSatisfy(isBase64)
}
