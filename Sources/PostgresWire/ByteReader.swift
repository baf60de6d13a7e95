// ByteReader and [UInt8] writer helpers: the big-endian integer and C-string parsing all messages share.

/// Reads fields front to back from a message body; every read checks bounds and throws `.malformed`.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private(set) var index: Int
    /// Names the message in error texts, e.g. "BackendKeyData".
    let context: String

    init(_ bytes: ArraySlice<UInt8>, context: String) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.context = context
    }

    var remainingCount: Int { bytes.endIndex - index }
    var isAtEnd: Bool { index >= bytes.endIndex }

    func malformed(_ what: String) -> WireError {
        .malformed("\(context): \(what)")
    }

    mutating func readUInt8() throws(WireError) -> UInt8 {
        guard remainingCount >= 1 else { throw malformed("truncated byte") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readInt16() throws(WireError) -> Int16 {
        guard remainingCount >= 2 else { throw malformed("truncated Int16") }
        defer { index += 2 }
        return Int16(bitPattern: UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]))
    }

    mutating func readUInt32() throws(WireError) -> UInt32 {
        guard remainingCount >= 4 else { throw malformed("truncated Int32") }
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16
            | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
    }

    mutating func readInt32() throws(WireError) -> Int32 {
        Int32(bitPattern: try readUInt32())
    }

    /// A non-negative Int16 count, as used before arrays.
    mutating func readCount16() throws(WireError) -> Int {
        let count = Int(try readInt16())
        guard count >= 0 else { throw malformed("negative count \(count)") }
        return count
    }

    mutating func readBytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, remainingCount >= count else { throw malformed("truncated field of \(count) bytes") }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    mutating func readRemaining() -> ArraySlice<UInt8> {
        defer { index = bytes.endIndex }
        return bytes[index...]
    }

    /// The bytes up to the next NUL, consuming the NUL.
    mutating func readCStringBytes() throws(WireError) -> ArraySlice<UInt8> {
        guard let end = bytes[index...].firstIndex(of: 0) else { throw malformed("missing NUL terminator") }
        defer { index = end + 1 }
        return bytes[index..<end]
    }

    /// A NUL-terminated string that must be valid UTF-8.
    mutating func readCString() throws(WireError) -> String {
        let raw = try readCStringBytes()
        guard let string = String(validating: raw, as: UTF8.self) else { throw malformed("invalid UTF-8 in string") }
        return string
    }

    /// A NUL-terminated string; invalid UTF-8 is replaced with U+FFFD (for free text such as error messages).
    mutating func readLossyCString() throws(WireError) -> String {
        String(decoding: try readCStringBytes(), as: UTF8.self)
    }

    /// Throws unless every byte was consumed.
    func expectEnd() throws(WireError) {
        guard isAtEnd else { throw malformed("\(remainingCount) unexpected trailing bytes") }
    }
}

extension Array where Element == UInt8 {
    mutating func appendInt16(_ value: Int16) {
        let bits = UInt16(bitPattern: value)
        append(UInt8(truncatingIfNeeded: bits >> 8))
        append(UInt8(truncatingIfNeeded: bits))
    }

    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func appendInt32(_ value: Int32) {
        appendUInt32(UInt32(bitPattern: value))
    }

    /// Overwrites four bytes at `index` with `value`, big-endian (for back-patching lengths).
    mutating func setInt32(_ value: Int32, at index: Int) {
        let bits = UInt32(bitPattern: value)
        self[index] = UInt8(truncatingIfNeeded: bits >> 24)
        self[index + 1] = UInt8(truncatingIfNeeded: bits >> 16)
        self[index + 2] = UInt8(truncatingIfNeeded: bits >> 8)
        self[index + 3] = UInt8(truncatingIfNeeded: bits)
    }

    /// Appends the string's UTF-8 and a NUL. PostgreSQL strings cannot hold NUL, so the string
    /// is cut at its first NUL to keep the frame well-formed.
    mutating func appendCString(_ string: String) {
        let utf8 = string.utf8
        if let nul = utf8.firstIndex(of: 0) {
            append(contentsOf: utf8[..<nul])
        } else {
            append(contentsOf: utf8)
        }
        append(0)
    }
}
