// MD5Password: PostgreSQL's md5 password scheme, "md5" + md5hex(md5hex(password + user) + salt).

public enum MD5Password {
    /// The PasswordMessage a client sends for AuthenticationMD5Password with `salt`.
    public static func hash(user: String, password: String, salt: [UInt8]) -> String {
        hash(storedHash: storedHash(user: user, password: password), salt: salt)
    }

    /// What pg_authid stores for md5: "md5" + md5hex(password + user).
    public static func storedHash(user: String, password: String) -> String {
        "md5" + Crypto.hex(Crypto.md5(Array(password.utf8) + Array(user.utf8)))
    }

    /// The salted response from a stored "md5…" hash, so a server needs no cleartext password.
    public static func hash(storedHash: String, salt: [UInt8]) -> String {
        let inner = storedHash.hasPrefix("md5") ? String(storedHash.dropFirst(3)) : storedHash
        return "md5" + Crypto.hex(Crypto.md5(Array(inner.utf8) + salt))
    }

    /// Checks a client's response in constant time.
    public static func verify(response: String, user: String, password: String, salt: [UInt8]) -> Bool {
        constantTimeEquals(Array(response.utf8), Array(hash(user: user, password: password, salt: salt).utf8))
    }
}
