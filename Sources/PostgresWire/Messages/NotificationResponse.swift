// NotificationResponse ('A'): a NOTIFY delivered to a listening session.

public struct NotificationResponse: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "A") }
    /// The notifying backend's process ID.
    public var processID: Int32
    public var channel: String
    public var payload: String

    public init(processID: Int32, channel: String, payload: String) {
        self.processID = processID
        self.channel = channel
        self.payload = payload
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt32(processID)
        buffer.appendCString(channel)
        buffer.appendCString(payload)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> NotificationResponse {
        var reader = ByteReader(body, context: "NotificationResponse")
        let processID = try reader.readInt32()
        let channel = try reader.readCString()
        let payload = try reader.readLossyCString()
        try reader.expectEnd()
        return NotificationResponse(processID: processID, channel: channel, payload: payload)
    }
}
