// NoData ('n'): the described statement or portal returns no rows.

public struct NoData: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "n") }
    public init() {}
}
