// SCRAM: the SCRAM-SHA-256 key math (RFC 5802, RFC 7677) and message-attribute parsing both exchanges share.
//
// SASLprep: ASCII passwords are used as they are; other passwords are used as their UTF-8 bytes
// without SASLprep normalization. PostgreSQL normalizes them (NFKC), so a non-ASCII password that
// is not already in normal form will not match a verifier PostgreSQL made.

public enum SCRAM {
    public static let mechanism = "SCRAM-SHA-256"
    public static let mechanismWithChannelBinding = "SCRAM-SHA-256-PLUS"
    /// PostgreSQL's `scram_iterations` default.
    public static let defaultIterations = 4096
    /// PostgreSQL's salt length for new verifiers.
    public static let defaultSaltLength = 16
    /// Upper bound on iterations a client accepts from a server (PBKDF2 cost is linear in it).
    public static let maxIterations = 100_000_000

    /// A fresh nonce: base64 of 18 random bytes, like PostgreSQL's.
    public static func generateNonce() -> String {
        Base64.encode(Crypto.randomBytes(18))
    }

    public static func generateSalt() -> [UInt8] {
        Crypto.randomBytes(defaultSaltLength)
    }

    static func saltedPassword(password: String, salt: [UInt8], iterations: Int32) -> [UInt8] {
        Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
    }

    static func clientKey(saltedPassword: [UInt8]) -> [UInt8] {
        Crypto.hmacSHA256(key: saltedPassword, "Client Key")
    }

    static func serverKey(saltedPassword: [UInt8]) -> [UInt8] {
        Crypto.hmacSHA256(key: saltedPassword, "Server Key")
    }

    /// ClientKey XOR HMAC(StoredKey, AuthMessage).
    static func clientProof(clientKey: [UInt8], authMessage: String) -> [UInt8] {
        Crypto.xor(clientKey, Crypto.hmacSHA256(key: Crypto.sha256(clientKey), authMessage))
    }

    /// HMAC(ServerKey, AuthMessage).
    static func serverSignature(serverKey: [UInt8], authMessage: String) -> [UInt8] {
        Crypto.hmacSHA256(key: serverKey, authMessage)
    }

    /// Splits "a=1,b=2" into ordered (name, value) pairs; names are single ASCII letters.
    static func attributes(_ text: Substring) -> [(name: Character, value: Substring)]? {
        var result: [(name: Character, value: Substring)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let name = part.first, name.isASCII, name.isLetter,
                  part[part.index(after: part.startIndex)] == "=" else { return nil }
            result.append((name, part.dropFirst(2)))
        }
        return result
    }

    /// RFC 5802 `printable`: %x21-2B / %x2D-7E, at least one character.
    static func isValidNonce(_ nonce: Substring) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ",") }
    }

    /// RFC 5802 `saslname`: "=" becomes "=3D" and "," becomes "=2C".
    static func escapeUsername(_ name: String) -> String {
        name.replacingOccurrences("=", "=3D").replacingOccurrences(",", "=2C")
    }

    static func utf8String(_ data: [UInt8]) -> Substring? {
        String(validating: data, as: UTF8.self).map { Substring($0) }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
