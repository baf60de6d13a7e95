// Sync ('S'): ends an extended-query cycle; the server answers with ReadyForQuery.

public struct Sync: FrontendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "S") }
    public init() {}
}
