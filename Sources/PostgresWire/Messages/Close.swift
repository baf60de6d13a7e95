// Close ('C', frontend): closes a prepared statement or portal.

public struct Close: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "C") }
    public var kind: StatementOrPortal
    /// Empty for the unnamed statement or portal.
    public var name: String

    public init(kind: StatementOrPortal, name: String) {
        self.kind = kind
        self.name = name
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.append(kind.rawValue)
        buffer.appendCString(name)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Close {
        var reader = ByteReader(body, context: "Close")
        let kind = try StatementOrPortal.read(from: &reader)
        let name = try reader.readCString()
        try reader.expectEnd()
        return Close(kind: kind, name: name)
    }
}
