// ParameterStatus ('S'): the server reports a run-time parameter's current value.

public struct ParameterStatus: BackendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "S") }
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public func encodeBody(into buffer: inout [UInt8]) {
        buffer.appendCString(name)
        buffer.appendCString(value)
    }

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> ParameterStatus {
        var reader = ByteReader(body, context: "ParameterStatus")
        let name = try reader.readCString()
        let value = try reader.readCString()
        try reader.expectEnd()
        return ParameterStatus(name: name, value: value)
    }
}
