// PasswordMessage ('p'): a cleartext or md5-hashed password answering an Authentication request.

/// 'p' also carries SASLInitialResponse and SASLResponse; the authentication state decides which to decode.
public struct PasswordMessage: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "p") }
    public var password: String

    public init(password: String) {
        self.password = password
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(password)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> PasswordMessage {
        var reader = ByteReader(body, context: "PasswordMessage")
        let password = try reader.readCString()
        try reader.expectEnd()
        return PasswordMessage(password: password)
    }
}
