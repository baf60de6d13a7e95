// NoData ('n'): the described statement or portal returns no rows.

public struct NoData: BackendMessage, EmptyBodyMessage, Equatable {
    public static let typeCode = UInt8(ascii: "n")
    public init() {}
}
