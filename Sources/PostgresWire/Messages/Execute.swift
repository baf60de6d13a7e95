// Execute ('E'): runs a portal, returning at most maxRows rows (0 = all).

public struct Execute: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "E") }
    /// Empty for the unnamed portal.
    public var portalName: String
    /// Zero means no limit.
    public var maxRows: Int32

    public init(portalName: String, maxRows: Int32 = 0) {
        self.portalName = portalName
        self.maxRows = maxRows
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(portalName)
        buffer.appendInt32(maxRows)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Execute {
        var reader = ByteReader(body, context: "Execute")
        let portalName = try reader.readCString()
        let maxRows = try reader.readInt32()
        try reader.expectEnd()
        return Execute(portalName: portalName, maxRows: maxRows)
    }
}
