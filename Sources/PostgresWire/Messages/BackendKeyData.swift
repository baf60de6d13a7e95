// BackendKeyData ('K'): the process ID and secret key a client needs to send a CancelRequest.

/// Protocol 3.0 form: a 4-byte secret key (protocol 3.2's longer keys are not supported).
public struct BackendKeyData: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "K") }
    public var processID: Int32
    public var secretKey: UInt32

    public init(processID: Int32, secretKey: UInt32) {
        self.processID = processID
        self.secretKey = secretKey
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt32(processID)
        buffer.appendUInt32(secretKey)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> BackendKeyData {
        var reader = ByteReader(body, context: "BackendKeyData")
        let processID = try reader.readInt32()
        let secretKey = try reader.readUInt32()
        try reader.expectEnd()
        return BackendKeyData(processID: processID, secretKey: secretKey)
    }
}
