// CopyFail ('f'): the client aborts a COPY FROM STDIN with an error message.

public struct CopyFail: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "f") }
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(message)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> CopyFail {
        var reader = ByteReader(body, context: "CopyFail")
        let message = try reader.readLossyCString()
        try reader.expectEnd()
        return CopyFail(message: message)
    }
}
