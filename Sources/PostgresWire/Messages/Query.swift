// Query ('Q'): a simple-protocol query string.

public struct Query: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "Q") }
    public var query: String

    public init(_ query: String) {
        self.query = query
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(query)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Query {
        var reader = ByteReader(body, context: "Query")
        let query = try reader.readCString()
        try reader.expectEnd()
        return Query(query)
    }
}
