// Parse ('P'): creates a prepared statement from a query and parameter type OIDs.

public struct Parse: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "P") }
    /// Empty for the unnamed statement.
    public var statementName: String
    public var query: String
    /// Zero means "unspecified, let the server infer".
    public var parameterTypeOIDs: [UInt32]

    public init(statementName: String, query: String, parameterTypeOIDs: [UInt32] = []) {
        self.statementName = statementName
        self.query = query
        self.parameterTypeOIDs = parameterTypeOIDs
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(statementName)
        buffer.appendCString(query)
        buffer.appendInt16(Int16(truncatingIfNeeded: parameterTypeOIDs.count))
        for oid in parameterTypeOIDs { buffer.appendUInt32(oid) }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Parse {
        var reader = ByteReader(body, context: "Parse")
        let statementName = try reader.readCString()
        let query = try reader.readCString()
        let count = try reader.readCount16()
        var oids: [UInt32] = []
        oids.reserveCapacity(min(count, reader.remainingCount / 4))
        for _ in 0..<count { oids.append(try reader.readUInt32()) }
        try reader.expectEnd()
        return Parse(statementName: statementName, query: query, parameterTypeOIDs: oids)
    }
}
