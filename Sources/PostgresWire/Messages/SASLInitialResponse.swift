// SASLInitialResponse ('p'): the chosen SASL mechanism and the client-first message.

public struct SASLInitialResponse: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "p") }
    /// e.g. "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS".
    public var mechanism: String
    /// nil is encoded as length -1 ("no initial response").
    public var data: [UInt8]?

    public init(mechanism: String, data: [UInt8]?) {
        self.mechanism = mechanism
        self.data = data
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(mechanism)
        if let data {
            buffer.appendInt32(Int32(truncatingIfNeeded: data.count))
            buffer.append(contentsOf: data)
        } else {
            buffer.appendInt32(-1)
        }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> SASLInitialResponse {
        var reader = ByteReader(body, context: "SASLInitialResponse")
        let mechanism = try reader.readCString()
        let length = try reader.readInt32()
        var data: [UInt8]?
        if length != -1 {
            guard length >= 0 else { throw reader.malformed("negative data length \(length)") }
            data = Array(try reader.readBytes(Int(length)))
        }
        try reader.expectEnd()
        return SASLInitialResponse(mechanism: mechanism, data: data)
    }
}
