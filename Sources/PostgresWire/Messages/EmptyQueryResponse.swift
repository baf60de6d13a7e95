// EmptyQueryResponse ('I'): the query string was empty.

public struct EmptyQueryResponse: BackendMessage, EmptyBodyMessage, Equatable {
    @inlinable public static var typeCode: UInt8 { UInt8(ascii: "I") }
    public init() {}
}
