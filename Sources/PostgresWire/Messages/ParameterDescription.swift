// ParameterDescription ('t'): the parameter type OIDs of a described statement.

public struct ParameterDescription: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "t") }
    public var parameterTypeOIDs: [UInt32]

    public init(parameterTypeOIDs: [UInt32]) {
        self.parameterTypeOIDs = parameterTypeOIDs
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendInt16(Int16(truncatingIfNeeded: parameterTypeOIDs.count))
        for oid in parameterTypeOIDs { buffer.appendUInt32(oid) }
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> ParameterDescription {
        var reader = ByteReader(body, context: "ParameterDescription")
        let count = try reader.readCount16()
        var oids: [UInt32] = []
        oids.reserveCapacity(min(count, reader.remainingCount / 4))
        for _ in 0..<count { oids.append(try reader.readUInt32()) }
        try reader.expectEnd()
        return ParameterDescription(parameterTypeOIDs: oids)
    }
}
