// CommandComplete ('C', backend): a command finished; the tag says which and how many rows.

public struct CommandComplete: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "C") }
    /// e.g. "SELECT 1", "INSERT 0 5", "BEGIN".
    public var tag: String

    public init(tag: String) {
        self.tag = tag
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(tag)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> CommandComplete {
        var reader = ByteReader(body, context: "CommandComplete")
        let tag = try reader.readCString()
        try reader.expectEnd()
        return CommandComplete(tag: tag)
    }
}
