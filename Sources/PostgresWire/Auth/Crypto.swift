// Crypto: thin wrappers over OpenSSL's SHA-256, HMAC, PBKDF2, MD5 and RAND_bytes, plus constant-time compare.

import COpenSSL

/// True when both collections hold the same bytes. Equal lengths are compared with
/// `CRYPTO_memcmp` (time independent of content); unequal lengths are false.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    let left = Array(a), right = Array(b)
    guard left.count == right.count else { return false }
    guard !left.isEmpty else { return true }
    return left.withUnsafeBytes { l in
        right.withUnsafeBytes { r in CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0 }
    }
}

enum Crypto {
    static func sha256(_ data: [UInt8]) -> [UInt8] {
        digest(data, EVP_sha256(), size: 32)
    }

    static func md5(_ data: [UInt8]) -> [UInt8] {
        digest(data, EVP_md5(), size: 16)
    }

    private static func digest(_ data: [UInt8], _ type: OpaquePointer?, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let ok = withNonNullBytes(data) { pointer, count in EVP_Digest(pointer, count, &out, &outLength, type, nil) }
        precondition(ok == 1 && Int(outLength) == size, "invalid state: OpenSSL digest failed")
        return Array(out.prefix(size))
    }

    static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let result = withNonNullBytes(key) { keyPointer, keyCount in
            withNonNullBytes(data) { dataPointer, dataCount in
                HMAC(EVP_sha256(), keyPointer, Int32(keyCount), dataPointer.assumingMemoryBound(to: UInt8.self),
                     dataCount, &out, &outLength)
            }
        }
        precondition(result != nil && outLength == 32, "invalid state: OpenSSL HMAC failed")
        return Array(out.prefix(32))
    }

    static func hmacSHA256(key: [UInt8], _ string: String) -> [UInt8] {
        hmacSHA256(key: key, Array(string.utf8))
    }

    /// PBKDF2-HMAC-SHA-256 with a 32-byte output, SCRAM's Hi().
    static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int32) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = withNonNullBytes(password) { passwordPointer, passwordCount in
            withNonNullBytes(salt) { saltPointer, saltCount in
                PKCS5_PBKDF2_HMAC(passwordPointer.assumingMemoryBound(to: CChar.self), Int32(passwordCount),
                                  saltPointer.assumingMemoryBound(to: UInt8.self), Int32(saltCount),
                                  iterations, EVP_sha256(), 32, &out)
            }
        }
        precondition(ok == 1, "invalid state: OpenSSL PBKDF2 failed")
        return out
    }

    /// Cryptographically random bytes from OpenSSL, falling back to the system generator.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0, RAND_bytes(&out, Int32(count)) != 1 {
            var generator = SystemRandomNumberGenerator()
            for index in out.indices { out[index] = generator.next() }
        }
        return out
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        zip(a, b).map { $0 ^ $1 }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Calls `body` with a non-null pointer even for an empty array (OpenSSL dislikes NULL).
    private static func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawPointer, Int) -> R) -> R {
        if bytes.isEmpty {
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { body(UnsafeRawPointer($0), 0) }
        }
        return bytes.withUnsafeBytes { body($0.baseAddress!, $0.count) }
    }
}
