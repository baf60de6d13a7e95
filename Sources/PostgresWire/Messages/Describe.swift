// Describe ('D'): asks for a description of a prepared statement or portal.

/// Whether Describe or Close names a prepared statement ('S') or a portal ('P').
public enum StatementOrPortal: UInt8, Sendable, Equatable {
    case statement = 0x53 // 'S'
    case portal = 0x50 // 'P'

    static func read(from reader: inout ByteReader) throws(WireError) -> StatementOrPortal {
        let byte = try reader.readUInt8()
        guard let kind = StatementOrPortal(rawValue: byte) else {
            throw reader.malformed("expected 'S' or 'P', got byte \(byte)")
        }
        return kind
    }
}

public struct Describe: FrontendMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "D") }
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

    public static func decode(body: ArraySlice<UInt8>) throws(WireError) -> Describe {
        var reader = ByteReader(body, context: "Describe")
        let kind = try StatementOrPortal.read(from: &reader)
        let name = try reader.readCString()
        try reader.expectEnd()
        return Describe(kind: kind, name: name)
    }
}
