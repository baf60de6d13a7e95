// Random: cryptographically secure random bytes from OpenSSL.
import COpenSSL

/// `count` bytes from OpenSSL's CSPRNG.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let ok = bytes.withUnsafeMutableBytes { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count)) }
    precondition(ok == 1, "invalid state: OpenSSL RAND_bytes failed")
    return bytes
}
